#!/usr/bin/env bash
# Recovers a stale FUSE mount (its server was killed: "Transport endpoint is not connected"), whose
# users would otherwise hang: abort the FUSE connection, then unmount lazily.
#   bash mount-scripts/recover-mount.sh DIR
set -uo pipefail
dir=$(realpath -m "${1:?usage: recover-mount.sh MOUNTPOINT}")
line=$(awk -v d="$dir" '$5 == d && $9 ~ /^fuse/ {print $3}' /proc/self/mountinfo | tail -n 1)
if [ -z "$line" ]; then echo "recover-mount: $dir is not a FUSE mount"; exit 0; fi
minor=${line#*:}
if [ -w "/sys/fs/fuse/connections/$minor/abort" ]; then
  echo 1 > "/sys/fs/fuse/connections/$minor/abort" || true
fi
fusermount3 -uz "$dir" 2>/dev/null || fusermount -uz "$dir" 2>/dev/null || umount -l "$dir"
echo "recover-mount: $dir unmounted"
