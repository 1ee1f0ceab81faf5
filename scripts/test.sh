#!/usr/bin/env bash
# Runs every test of the workspace. On a fresh machine (Debian, Rust stable,
# Node.js 20 with npm) it first installs what the tests need:
#   - Debian's chromium (apt-get, with sudo when not root) for the browser tests
#   - Debian's redis-server for the sio-redis tests
#   - Debian's nginx for the test of two chat nodes behind it (tests/tests/cluster_nginx.rs)
#   - the pinned npm peers in tests/node_modules (`npm ci`, from tests/package-lock.json)
# then runs `cargo test --workspace --all-features` (unit, integration and doc tests).
#
# Environment:
#   SIO_NPM_CI=1   reinstall tests/node_modules even if it matches the lockfile
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for tool in cargo node npm; do
    command -v "$tool" >/dev/null 2>&1 || die "\`$tool\` is not on PATH (the tests need Rust stable and Node.js 20 with npm)"
done
step "tools: $(cargo --version), node $(node --version), npm $(npm --version)"

# --- system packages -------------------------------------------------------
# The browser tests (tests/tests/browser_*.rs) drive Debian's Chromium with
# playwright-core (pinned in tests/package.json); playwright's own browser
# downloads are not used. Installed once, when /usr/bin/chromium is missing.
if [ ! -x /usr/bin/chromium ]; then
    step "apt-get install chromium (for the browser tests)"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update
    $sudo_cmd apt-get install -y --no-install-recommends chromium
fi
# The sio-redis tests start their own redis-server instances (standalone and a
# three-master cluster) on free loopback ports.
# shellcheck source=scripts/redis-deps.sh
source scripts/redis-deps.sh
# The nginx test starts its own nginx (temp prefix, free loopback port) in front of two nodes.
# shellcheck source=scripts/nginx-deps.sh
source scripts/nginx-deps.sh
# ---------------------------------------------------------------------------

# The pinned npm packages (tests/package-lock.json).
# shellcheck source=scripts/npm-deps.sh
source scripts/npm-deps.sh

# Property tests draw their cases from a fixed seed, so that a run never depends on luck and a
# failure reproduces; set PROPTEST_RNG_SEED yourself to explore other cases (fuzzing explores
# continuously: see fuzz/README.md).
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261125}"

step "cargo test --workspace --all-features (in $root, PROPTEST_RNG_SEED=$PROPTEST_RNG_SEED)"
cargo test --workspace --all-features

step "all tests passed"
