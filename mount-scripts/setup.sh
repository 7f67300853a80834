#!/usr/bin/env bash
# The README's two commands.
#   bash mount-scripts/setup.sh          install everything, put `palm` on the PATH, create a one-device
#                                        swarm if there is none, and mount ~/palm
#   bash mount-scripts/setup.sh --test   install everything, then run the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "${1:-}" = "--test" ]; then
  shift
  bash mount-scripts/install-deps.sh
  exec node test/run.mjs "$@"
fi

bash mount-scripts/install-deps.sh

# Put `palm` on the PATH: /usr/local/bin as root, else ~/.local/bin.
if [ "$(id -u)" -eq 0 ]; then bindir=/usr/local/bin; else bindir="$HOME/.local/bin"; mkdir -p "$bindir"; fi
ln -sf "$root/dist/src/cli/main.js" "$bindir/palm"
chmod +x "$root/dist/src/cli/main.js"
case ":$PATH:" in *":$bindir:"*) ;; *) echo "palm: add $bindir to your PATH to run palm from anywhere";; esac

palm="$root/dist/src/cli/main.js"
home="${PALM_HOME:-$HOME/.palm}"
if [ ! -f "$home/swarm.json" ]; then
  node "$palm" init
fi
node "$palm" mount "${1:-$HOME/palm}"
node "$palm" status
