#!/usr/bin/env bash
# Client memory per idle WebSocket connection: sio-client (sio-client/examples/idle_clients.rs)
# and socket.io-client (bench/js/node-idle-clients.js), against the same Node socket.io server
# (tests/js/client-server.js), in the same run. The server is pinned to CPU 0, each client
# process to CPU 1, one after the other. Each client prints its own RSS before and after.
#
#   bash scripts/bench-client-mem.sh [N=10000] [SETTLE_SECONDS=5] [CLIENTS="sio node"]
#
# The build goes to $CARGO_TARGET_DIR when it is set (else target/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

n=${1:-10000}
settle=${2:-5}
clients=${3:-"sio node"}

[ -d tests/node_modules/socket.io ] || { echo "tests/node_modules is missing (see scripts/npm-deps.sh)" >&2; exit 1; }
cargo build -q --release -p sio-client --example idle_clients
idle_clients=${CARGO_TARGET_DIR:-target}/release/examples/idle_clients
ulimit -n $((n + 1000))

out=$(mktemp)
# The server exits when its stdin closes: a pipe from `sleep` keeps it alive.
sleep 100000 | (cd tests && exec taskset -c 0 node js/client-server.js 0) >"$out" &
for _ in $(seq 100); do grep -q '^PORT ' "$out" && break; sleep 0.1; done
port=$(awk '/^PORT / {print $2}' "$out")
[ -n "$port" ] || { echo "the Node server did not start" >&2; exit 1; }
trap 'pkill -P $$ sleep 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$out"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), node $(node --version)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), $n clients, settle ${settle}s"
for client in $clients; do
    echo "== $client"
    case $client in
        sio) taskset -c 1 "$idle_clients" "http://127.0.0.1:$port" "$n" "$settle" ;;
        node) taskset -c 1 node --expose-gc bench/js/node-idle-clients.js "http://127.0.0.1:$port" "$n" "$settle" ;;
        *) echo "unknown client $client" >&2; exit 2 ;;
    esac
    sleep 2
done
