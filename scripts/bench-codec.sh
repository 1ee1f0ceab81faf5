#!/usr/bin/env bash
# Codec throughput, Rust (sio-protocol, criterion) against the JavaScript parsers
# (socket.io-parser 4.2.7 + engine.io-parser 5.2.3 under Node), same cases, same machine, same run.
# Prints a table of ns per operation and the ratio JS / Rust (higher is better for Rust).
#
#   bash scripts/bench-codec.sh            # full run (~3 minutes)
#   QUICK=1 bash scripts/bench-codec.sh    # short samples, for a smoke run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -d tests/node_modules/socket.io-parser ]; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "${QUICK:-0}" = "1" ]; then
    crit=(--warm-up-time 0.2 --measurement-time 0.5 --sample-size 10)
    js=(0.2 3)
else
    crit=(--warm-up-time 1 --measurement-time 3)
    js=(1 7)
fi

echo "==> machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "==> rustc $(rustc --version | cut -d' ' -f2), node $(node --version)"
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
echo "==> cargo bench -p sio-protocol --bench codec"
rm -rf "$target/criterion"
cargo bench -q -p sio-protocol --bench codec -- --noplot "${crit[@]}" >/dev/null
echo "==> node tests/js/bench-codec.js ${js[*]}"
node tests/js/bench-codec.js "${js[@]}" > "$target/bench-codec-js.jsonl"
node tests/js/bench-codec-report.js "$target/criterion" "$target/bench-codec-js.jsonl"
