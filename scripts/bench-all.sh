#!/usr/bin/env bash
# The side-by-side benchmarks (BENCHMARKS.md): our server, Node socket.io and socketioxide in
# one run, every scenario, servers pinned to CPU 0 and load generators to CPU 1.
#
#   bash scripts/bench-all.sh --smoke        # every scenario, 1k clients, ~1-2 minutes (CI)
#   bash scripts/bench-all.sh                # the full run, 3 repetitions (~30 minutes)
#   bash scripts/bench-all.sh --scenarios idle --servers sio,node --reps 5
#
# Options are those of bench/run.py (--help). Results: bench/results/ (smoke: a temp dir).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

[ -d tests/node_modules/socket.io ] || (cd tests && npm ci --no-audit --no-fund --loglevel=error)
cargo build -q --release -p sio-bench
cargo build -q --release -p sio-client --example idle_clients
exec python3 bench/run.py "$@"
