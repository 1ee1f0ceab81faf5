#!/usr/bin/env bash
# Runs the chat demo: sio-server's `chat` example on http://127.0.0.1:3000/ (PORT=<port> picks
# another port). Its page loads the official browser client, socket.io-client's
# dist/socket.io.min.js, from the demo server itself, so it works offline; the file comes from
# the pinned npm packages in tests/node_modules, installed here first if needed (`npm ci` in
# tests/, the same check as scripts/test.sh).
#
# Environment:
#   SIO_NPM_CI=1   reinstall tests/node_modules even if it matches the lockfile
#   PORT=<port>    the port of the demo (default 3000)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for tool in cargo node npm; do
    command -v "$tool" >/dev/null 2>&1 || die "\`$tool\` is not on PATH (the demo needs Rust stable and Node.js 20 with npm)"
done

# The pinned npm packages (tests/package-lock.json).
# shellcheck source=scripts/npm-deps.sh
source scripts/npm-deps.sh

step "cargo run -p sio-server --example chat (open http://127.0.0.1:${PORT:-3000}/)"
exec cargo run -p sio-server --example chat
