# Sourced by scripts/test.sh (from the repository root, after `step` is defined): installs
# Redis (Debian's redis-server, 7.x, which brings redis-cli) for the sio-redis tests
# (tests/tests/redis_*.rs start their own servers and clusters on free loopback ports; they
# fail when redis-server is missing, unless SIO_SKIP_REDIS=1). Installed once, when missing.
if ! command -v redis-server >/dev/null 2>&1; then
    step "apt-get install redis-server (for the sio-redis tests)"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update
    $sudo_cmd apt-get install -y --no-install-recommends redis-server
fi
# The package starts a system service on port 6379; the tests do not use it.
