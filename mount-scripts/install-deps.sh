#!/usr/bin/env bash
# Installs what PALM needs on Debian/Ubuntu with Node.js 20: the FUSE 3 runtime and headers (the
# native binding is built from source against them), build tools, the tools the tests use, then the
# npm packages (npm ci) and the build. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have_cmd () { command -v "$1" >/dev/null 2>&1; }
# command → Debian package that provides it (only what is missing gets installed)
need () { have_cmd "$1" || need_pkgs+=("$2"); }
need fusermount3 fuse3        # mounting and unmounting
need pkg-config pkg-config    # the native build finds libfuse 3 with it
need python3 python3          # node-gyp (the FUSE binding, sqlite3)
need make make
need g++ g++
need getfattr attr            # tests: extended attributes through the mount
need setfattr attr
need rsync rsync              # tests: rsync round trips
need git git                  # tests: git on the mount
need ip iproute2              # tests: the namespace LAN
need nsenter util-linux
need chromium chromium        # tests: the status web app in a real headless browser (playwright-core drives it)
if have_cmd pkg-config && ! pkg-config --exists fuse3; then need_pkgs+=(libfuse3-dev); fi
if ! have_cmd pkg-config; then need_pkgs+=(libfuse3-dev); fi
for p in "$@"; do need_pkgs+=("$p"); done
# one entry per package
mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | awk 'NF && !seen[$0]++')

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if ! have_cmd apt-get; then
    echo "palm: missing system packages: ${need_pkgs[*]} (and no apt-get here): install them with your package manager" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    have_cmd sudo || { echo "palm: need root (or sudo) to install: ${need_pkgs[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  echo "palm: installing system packages: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "palm: needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# /dev/fuse must exist to mount; inside some containers it needs to be created.
if [ ! -e /dev/fuse ] && [ "$(id -u)" -eq 0 ]; then
  mknod -m 666 /dev/fuse c 10 229 2>/dev/null || true
fi

# Native modules (sqlite3 from source, our FUSE binding) need Node's headers. Use the ones installed
# with this node (Debian and NodeSource: /usr/include/node) so that node-gyp does not try to download
# them, which fails offline; an explicit nodedir setting (npmrc or environment) wins.
node_prefix=$(dirname "$(dirname "$(command -v node)")")
if [ -z "${npm_config_nodedir:-}" ] && [ "$(npm config get nodedir 2>/dev/null)" = "undefined" ] \
   && [ -f "$node_prefix/include/node/node_api.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
