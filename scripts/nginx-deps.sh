# Sourced by scripts/test.sh (from the repository root, after `step` is defined): installs
# Debian's nginx (1.22 on Debian 12) for tests/tests/cluster_nginx.rs, which starts its own
# nginx (`nginx -p <temp dir> -c <generated config>`, in the foreground, on a free loopback
# port) in front of two chat nodes. The test fails when /usr/sbin/nginx is missing, unless
# SIO_SKIP_NGINX=1 (or SIO_NGINX=<path> names another binary). Installed once, when missing.
if [ ! -x /usr/sbin/nginx ]; then
    step "apt-get install nginx (for the nginx test of sio-redis)"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update
    $sudo_cmd apt-get install -y --no-install-recommends nginx
fi
# The package may start a system service on port 80; the test does not use it.
