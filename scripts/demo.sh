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

# True when tests/node_modules holds exactly what tests/package-lock.json pins
# (the same check as scripts/test.sh).
npm_tree_matches_lockfile() {
    [ -f tests/node_modules/.package-lock.json ] || return 1
    (cd tests && node -e '
        const fs = require("fs");
        const want = require("./package-lock.json").packages || {};
        const have = require("./node_modules/.package-lock.json").packages || {};
        for (const [path, pkg] of Object.entries(want)) {
            if (path === "") continue;
            const got = have[path];
            if (!got || got.version !== pkg.version || got.integrity !== pkg.integrity) process.exit(1);
            if (!pkg.optional && !fs.existsSync(path + "/package.json")) process.exit(1);
        }
    ') >/dev/null 2>&1
}

if [ "${SIO_NPM_CI:-0}" != "1" ] && npm_tree_matches_lockfile; then
    step "tests/node_modules matches tests/package-lock.json (SIO_NPM_CI=1 reinstalls)"
else
    step "npm ci in tests/ (pinned by tests/package-lock.json)"
    (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

step "cargo run -p sio-server --example chat (open http://127.0.0.1:${PORT:-3000}/)"
exec cargo run -p sio-server --example chat
