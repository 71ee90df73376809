#!/usr/bin/env bash
# Hardening: admin API deadlines (server.admin_read_timeout, server.admin_write_timeout = 2 s here). A slow-loris
# client (one byte a second) and a client that never reads its responses are each disconnected after the
# documented timeout while other admin clients and DNS are served at once (admin_slow.py).
# usage: admin_slow.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config
sed -i 's/^admin_listen = .*/&\nadmin_read_timeout = "2s"\nadmin_write_timeout = "2s"/' "$CONF"
grep -q '^admin_write_timeout = "2s"' "$CONF" || die "cannot set the admin timeouts in $CONF"
start_vpced
py_checks "$HERE/admin_slow.py" "$ADMIN" "$PORT" "$APEX" 2 2 "$DIR/measured.txt"
[ -f "$DIR/measured.txt" ] && cat "$DIR/measured.txt"
check_true "vpced still running" kill -0 "$PID"
