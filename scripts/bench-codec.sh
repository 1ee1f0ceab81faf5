#!/usr/bin/env bash
# Codec throughput, Rust (sio-protocol, criterion) against the JavaScript parsers
# (socket.io-parser 4.2.7 + engine.io-parser 5.2.3 under Node), same cases, same machine, same run.
# Prints a table of ns per operation and the ratio JS / Rust (higher is better for Rust).
#
#   bash scripts/bench-codec.sh            # full run (~3 minutes)
#   REPS=3 bash scripts/bench-codec.sh     # three full runs, one table of medians (~9 minutes)
#   QUICK=1 bash scripts/bench-codec.sh    # short samples, for a smoke run
#
# Results go to $CARGO_TARGET_DIR (default target/): bench-codec/run-N/{criterion,js.jsonl}.
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
reps="${REPS:-1}"

echo "==> machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "==> rustc $(rustc --version | cut -d' ' -f2), node $(node --version), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
target="${CARGO_TARGET_DIR:-target}"
out="$target/bench-codec"
rm -rf "$out"
cargo bench -q -p sio-protocol --bench codec --no-run
report=()
for r in $(seq 1 "$reps"); do
    mkdir -p "$out/run-$r"
    echo "==> run $r of $reps (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "    cargo bench -p sio-protocol --bench codec"
    rm -rf "$target/criterion"
    cargo bench -q -p sio-protocol --bench codec -- --noplot "${crit[@]}" >/dev/null
    mv "$target/criterion" "$out/run-$r/criterion"
    echo "    node tests/js/bench-codec.js ${js[*]}"
    node tests/js/bench-codec.js "${js[@]}" > "$out/run-$r/js.jsonl"
    report+=("$out/run-$r/criterion" "$out/run-$r/js.jsonl")
done
node tests/js/bench-codec-report.js "${report[@]}"
