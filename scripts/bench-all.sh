#!/usr/bin/env bash
# The side-by-side benchmarks (BENCHMARKS.md §2): our server, Node socket.io and socketioxide in
# one run, every scenario, servers pinned to CPU 0 and load generators to CPU 1.
#
#   bash scripts/bench-all.sh --smoke        # every scenario, 1k clients, ~1.5 minutes (CI)
#   bash scripts/bench-all.sh                # the full run, 3 repetitions (~40 minutes)
#   bash scripts/bench-all.sh --scenarios idle --servers sio,node --reps 5
#   bash scripts/bench-all.sh --scenarios echo --servers sio,sio_metrics --reps 5   # §6
#
# Options are those of bench/run.py (--help). Results: bench/results/ (smoke: a temp dir).
# The run goes into a network namespace of its own when `unshare -n` is allowed: its tens of
# thousands of loopback sockets (and their TIME_WAIT ports) then never touch the ports of other
# programs on the machine, and the kernel's listen-drop counters count only this run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

[ -d tests/node_modules/socket.io ] || (cd tests && npm ci --no-audit --no-fund --loglevel=error)
# The cluster scenario (two nodes on one Redis) starts its own redis-server.
step() { printf '\n==> %s\n' "$*" >&2; }
# shellcheck source=scripts/redis-deps.sh
source scripts/redis-deps.sh
cargo build -q --release -p sio-bench
# The server `sio_metrics` (ours with sio-server's `metrics` feature, BENCHMARKS.md §6) is a second
# build of sio-server and what depends on it: only when the arguments ask for it.
case " $* " in
    *sio_metrics*) cargo build -q --release -p sio-bench --features metrics --bin bench_server_metrics ;;
esac
cargo build -q --release -p sio-client --example idle_clients
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    exec unshare -n sh -c 'ip link set lo up && SIO_BENCH_NETNS=1 exec python3 bench/run.py "$@"' sh "$@"
fi
echo "bench-all: no private network namespace (unshare -n not allowed); sharing the machine's" >&2
exec python3 bench/run.py "$@"
