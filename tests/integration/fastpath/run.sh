#!/usr/bin/env bash
# The batched UDP path (recvmmsg/sendmmsg, docs/performance.md): bursts larger than a batch from several
# sockets, with TC answers and malformed packets inside the bursts (burst.py), against a running vpced.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

PORT=$(free_port) || die "cannot find a free port"
ADMIN=$(free_port) || die "cannot find a free port"
APEX=us-east-1.vpce.amazonaws.com
"$PY" "$HERE/config.py" "$CONF" "$PORT" "$ADMIN" || die "config.py failed"
"$VPCED" zone -c "$CONF" >"$DIR/zone.txt" 2>"$DIR/zone.err" || die "vpced zone failed: $(cat "$DIR/zone.err")"
start_vpced
py_checks "$HERE/burst.py" "$PORT" "$DIR/zone.txt"
# Still serving after the bursts.
check_eq "apex SOA after the bursts" NOERROR "$(dig_status "$(qdig "$APEX" SOA)")"
