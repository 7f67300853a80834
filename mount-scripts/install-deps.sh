#!/usr/bin/env bash
# Installs what PALM needs on Debian/Ubuntu with Node.js 20: the FUSE 3 runtime and headers (the
# native binding is built from source against them), build tools, the tools the tests use, then the
# npm packages (npm ci) and the build. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have_cmd () { command -v "$1" >/dev/null 2>&1; }
have_pkg () { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

for p in fuse3 libfuse3-dev pkg-config python3 make g++ attr rsync git iproute2 psmisc procps; do
  have_pkg "$p" || need_pkgs+=("$p")
done
for p in "$@"; do have_pkg "$p" || need_pkgs+=("$p"); done

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

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent
