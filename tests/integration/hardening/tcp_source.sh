#!/usr/bin/env bash
# Hardening: DNS over TCP, connections per source (server.tcp_max_connections_per_source, default 64, counted
# over all worker threads). 127.50.0.1 opens 64 + 10 idle connections against four workers: exactly 64 stay
# open, the 10 others are closed at once and counted, 127.50.0.2 still gets TCP answers, UDP is answered, and
# closing some lets new ones in (tcp_source.py).
# usage: tcp_source.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

# Four workers: the limit holds across threads, whichever worker accepts a connection.
REAL_VPCED=$VPCED
VPCED="$DIR/vpced-4threads"
printf '#!/bin/sh\nexec "%s" "$@" --threads 4\n' "$REAL_VPCED" >"$VPCED"
chmod +x "$VPCED"
setup_config
start_vpced
py_checks "$HERE/tcp_source.py" "$PORT" "$ADMIN" "$APEX" 64 10 10
check_true "vpced still running" kill -0 "$PID"
