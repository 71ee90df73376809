#!/usr/bin/env bash
# The relay of `vpced run` (design §7) against real peers on loopback: python backends (echo, checksums, a
# PROXY v2 parser), haproxy with accept-proxy, and dig for the regional answer that follows target health.
# Endpoint ids and ENI addresses come from `vpced describe --json`; the config's own timers are used.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

HAPROXY=$(command -v haproxy || true)
[ -x "$HAPROXY" ] || HAPROXY=/usr/sbin/haproxy
[ -x "$HAPROXY" ] || die "haproxy is not installed (scripts/install-deps.sh installs it)"
DIG=$(command -v dig) || die "dig is not installed (scripts/install-deps.sh installs bind9-dnsutils)"

py_checks "$HERE/relay_test.py" "$VPCED" "$DIR" "$HAPROXY" "$DIG"
