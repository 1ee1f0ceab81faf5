# Sourced by scripts/test.sh and scripts/demo.sh (from the repository root): installs the npm
# packages pinned by tests/package-lock.json into tests/node_modules, unless they are there
# already. SIO_NPM_CI=1 reinstalls them anyway.

# True when tests/node_modules holds exactly what tests/package-lock.json pins
# (npm's own record of the installed tree, node_modules/.package-lock.json,
# agrees with the lockfile and every package folder exists).
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
