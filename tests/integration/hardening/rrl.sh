#!/usr/bin/env bash
# Hardening: response rate limiting for UDP (server.rrl, docs/dns.md). Bursts from one 127.x source against
# RRL off, rate 10 slip 2, rate 5 slip 1, rate 1 slip 1 (dig retries over TCP), rate 5 slip 0, exempt and /32
# buckets, each applied by a reload; /metrics counters must match what the client saw; TCP and other prefixes
# are unaffected.
# usage: rrl.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config
start_vpced
py_checks "$HERE/rrl.py" "$PORT" "$ADMIN" "$CONF" "$APEX" "$DIR/measured.txt"
[ -f "$DIR/measured.txt" ] && cat "$DIR/measured.txt"
check_true "vpced still running" kill -0 "$PID"
out=$(qdig "$APEX" SOA)
check_eq "vpced still answers" NOERROR "$(dig_status "$out")"
