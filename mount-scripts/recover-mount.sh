#!/usr/bin/env bash
# Recovers a stale FUSE mount (its server was killed: "Transport endpoint is not connected"), whose
# users would otherwise hang: abort the FUSE connection, then unmount lazily. Reads
# /proc/self/mountinfo only, so it never touches the hung mount itself.
#   bash mount-scripts/recover-mount.sh DIR
set -uo pipefail
dir="${1:?usage: recover-mount.sh MOUNTPOINT}"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
dir="${dir%/}"
# mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS
minor=$(awk -v d="$dir" '{
  mp = $5; gsub(/\\040/, " ", mp)
  for (i = 7; i <= NF; i++) if ($i == "-") break
  if (mp == d && $(i + 1) ~ /^fuse/) { split($3, a, ":"); m = a[2] }
} END { print m }' /proc/self/mountinfo)
if [ -z "$minor" ]; then echo "recover-mount: $dir is not a FUSE mount"; exit 0; fi
if [ -w "/sys/fs/fuse/connections/$minor/abort" ]; then
  echo 1 > "/sys/fs/fuse/connections/$minor/abort" || true
fi
fusermount3 -uz "$dir" 2>/dev/null || fusermount -uz "$dir" 2>/dev/null || umount -l "$dir"
echo "recover-mount: $dir unmounted"
