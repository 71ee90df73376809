#!/usr/bin/env bash
# The relay (design §7) against real peers on loopback: python backends (echo, checksums, a PROXY v2 parser)
# and haproxy with accept-proxy, through relay_driver (proxy::Relay on a loaded snapshot) until the daemon
# runs the relay. Endpoint ids and ENI addresses come from `vpced describe --json`.
# usage: run.sh VPCED SOURCE_DIR RELAY_DRIVER
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

DRIVER=$(readlink -f "${3:-}")
[ -x "$DRIVER" ] || die "relay_driver '$DRIVER' is not executable (third argument)"
HAPROXY=$(command -v haproxy || true)
[ -x "$HAPROXY" ] || HAPROXY=/usr/sbin/haproxy
[ -x "$HAPROXY" ] || die "haproxy is not installed (scripts/install-deps.sh installs it)"

py_checks "$HERE/relay_test.py" "$VPCED" "$DRIVER" "$DIR" "$HAPROXY"
