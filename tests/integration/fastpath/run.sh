#!/usr/bin/env bash
# The batched paths (docs/performance.md): UDP bursts larger than a recvmmsg batch from several sockets, with TC
# answers and malformed packets inside the bursts (burst.py); pipelined DNS over TCP, with forwarded queries, an
# AXFR, a too-short length and a dropped query inside the pipelines (tcp_pipeline.py, with its own upstream).
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

PORT=$(free_port) || die "cannot find a free port"
ADMIN=$(free_port) || die "cannot find a free port"
UPSTREAM=$(free_port) || die "cannot find a free port"
[ "$PORT" != "$UPSTREAM" ] && [ "$ADMIN" != "$UPSTREAM" ] || die "free_port returned the same port twice"
APEX=us-east-1.vpce.amazonaws.com
"$PY" "$HERE/config.py" "$CONF" "$PORT" "$ADMIN" "$UPSTREAM" || die "config.py failed"
"$VPCED" zone -c "$CONF" >"$DIR/zone.txt" 2>"$DIR/zone.err" || die "vpced zone failed: $(cat "$DIR/zone.err")"
start_vpced
py_checks "$HERE/burst.py" "$PORT" "$DIR/zone.txt"
py_checks "$HERE/tcp_pipeline.py" "$PORT" "$DIR/zone.txt" "$UPSTREAM"
# Still serving after the bursts and the pipelines.
check_eq "apex SOA after the bursts" NOERROR "$(dig_status "$(qdig "$APEX" SOA)")"
check_eq "apex SOA over TCP after the pipelines" NOERROR "$(dig_status "$(qdig +tcp "$APEX" SOA)")"
