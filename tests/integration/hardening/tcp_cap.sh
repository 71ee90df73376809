#!/usr/bin/env bash
# Hardening: DNS over TCP with one worker thread (cap 512 connections, idle timeout 10 s; dns/server.hpp).
# A client holds 512 + 40 idle connections: the 40 over the cap are closed at once, UDP keeps being answered,
# a new TCP query is answered as soon as some close, and the idle timeout closes the rest (tcp_cap.py).
# usage: tcp_cap.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

# One worker: the cap is per worker thread (tcp_max_connections_per_thread = 512).
REAL_VPCED=$VPCED
VPCED="$DIR/vpced-1thread"
printf '#!/bin/sh\nexec "%s" "$@" --threads 1\n' "$REAL_VPCED" >"$VPCED"
chmod +x "$VPCED"
ulimit -n 4096 2>/dev/null || true
setup_config
# Every connection comes from 127.0.0.1: the per-source limit (tcp_source.sh) is turned off to reach the cap.
sed -i 's/^\[server\]$/[server]\ntcp_max_connections_per_source = 0/' "$CONF"
start_vpced
py_checks "$HERE/tcp_cap.py" "$PORT" 512 40 10 "$APEX"
check_true "vpced still running" kill -0 "$PID"
