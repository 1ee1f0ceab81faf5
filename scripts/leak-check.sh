#!/usr/bin/env bash
# Leak check: 100,000 Socket.IO cycles (connect, emit with an ack, check the ack, disconnect)
# against one server process, half of them starting on WebSocket and half on HTTP long-polling
# (15 % of all cycles upgrade from polling to WebSocket), with clean and abrupt disconnections;
# 48 cycles in flight. It passes when every cycle succeeded, the server closed every session,
# socket and TCP connection, and the server's RSS at the end is within 10 % of its RSS after the
# first 1,000 cycles (also: no more live heap blocks than one per 100 cycles). One line per
# checkpoint, then a summary line ending in PASS or FAIL; exit status 0 when it passes.
# What the cycles are and how it measures: bench/src/bin/leak_check.rs.
#
#   bash scripts/leak-check.sh                     # 100,000 cycles: about 1 minute on 2 cores,
#                                                  # plus the release build of sio-bench if
#                                                  # not built yet (bench-all.sh builds it too)
#   bash scripts/leak-check.sh --cycles 20000      # another number of cycles
#   bash scripts/leak-check.sh --threads 2         # the server on a 2-worker runtime (default 1)
#   bash scripts/leak-check.sh --inject-leak 64    # self-test: a server that leaks 64 bytes per
#                                                  # connection; the check must FAIL
#
# Every option goes to leak_check: --cycles N, --first N (1000), --checkpoints K (4),
# --concurrency C (48), --max-growth F (0.10), --threads T (1), --only KIND, --inject-leak B.
# The run goes into a network namespace of its own when `unshare -n` is allowed, like
# bench-all.sh: the TIME_WAIT sockets of its 115,000 connections stay out of the machine's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

# The same build as bench-all.sh's, so that one reuses the other.
cargo build -q --release -p sio-bench
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    exec unshare -n sh -c 'ip link set lo up && exec target/release/leak_check "$@"' sh "$@"
fi
echo "leak-check: no private network namespace (unshare -n not allowed); sharing the machine's" >&2
exec target/release/leak_check "$@"
