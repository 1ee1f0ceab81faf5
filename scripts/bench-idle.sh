#!/usr/bin/env bash
# Memory per idle WebSocket connection: our server and the Node socket.io server, same machine,
# same run. Each server is pinned to CPU 0 and the load generator (bench's `idle_clients`,
# raw Socket.IO frames) to CPU 1. RSS from /proc/PID/status before the clients connect and
# after they all did (plus a settle time), and the kernel's TCP memory from /proc/net/sockstat.
#
#   bash scripts/bench-idle.sh [N=10000] [SETTLE_SECONDS=10] [SERVERS="sio node"]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

n=${1:-10000}
settle=${2:-10}
servers=${3:-"sio node"}

[ -d tests/node_modules/socket.io ] || (cd tests && npm ci --no-audit --no-fund --loglevel=error)
cargo build -q --release -p sio-bench

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
tcp_pages() { awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
printf '| server | clients | connected | RSS before (KiB) | RSS after (KiB) | RSS per connection (KB) | kernel TCP memory (KiB) |\n'
printf '|---|---|---|---|---|---|---|\n'
for server in $servers; do
    out=$(mktemp)
    case $server in
        sio) cmd=(target/release/bench_server 0) ;;
        node) cmd=(env NODE_ENV=production node bench/js/node-server.js 0) ;;
        *) echo "unknown server $server" >&2; exit 2 ;;
    esac
    # The server exits when its stdin closes: a pipe from `sleep` keeps it alive.
    # taskset and env exec the server: $! is the server's pid.
    sleep 100000 | taskset -c 0 "${cmd[@]}" >"$out" 2>"$out.err" &
    pid=$!
    for _ in $(seq 100); do grep -q '^PORT ' "$out" && break; sleep 0.1; done
    port=$(awk '/^PORT / {print $2}' "$out")
    [ -n "$port" ] && [ -n "$pid" ] || { echo "$server did not start" >&2; cat "$out.err" >&2; exit 1; }
    sleep 1
    before=$(rss "$pid"); tcp_before=$(tcp_pages)
    taskset -c 1 target/release/idle_clients "http://127.0.0.1:$port/socket.io/" "$n" $((settle + 5)) >"$out.gen" &
    gen=$!
    for _ in $(seq 1200); do [ -s "$out.gen" ] && break; sleep 0.1; done
    sleep "$settle"
    after=$(rss "$pid"); tcp_after=$(tcp_pages)
    connected=$(grep -oE '"connected":[0-9]+' "$out.gen" | cut -d: -f2)
    kill "$gen" 2>/dev/null || true; wait "$gen" 2>/dev/null || true
    pkill -P $$ sleep 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    per=$(awk -v a="$after" -v b="$before" -v c="$connected" 'BEGIN { if (c > 0) printf "%.1f", (a - b) * 1.024 / c; else print "-" }')
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$server" "$n" "$connected" "$before" "$after" "$per" $(( (tcp_after - tcp_before) * 4 ))
    rm -f "$out" "$out.err" "$out.gen"
done
