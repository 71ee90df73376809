#!/usr/bin/env bash
# Hardening: DNS-over-TCP slow readers against one worker thread. Four clients with a 4 KiB receive buffer
# pipeline thousands of queries and never read: vpced stops reading their queries while answers wait
# (back-pressure, at most 64 KiB of output per connection), closes each within the 10 s timeout of its last
# complete write, answers other TCP and UDP clients at once meanwhile, and its RSS does not grow by more than a
# few MB (tcp_slow_read.py).
# usage: tcp_slow_read.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

# One worker: a stalled write must not hold the thread that serves everybody else.
REAL_VPCED=$VPCED
VPCED="$DIR/vpced-1thread"
printf '#!/bin/sh\nexec "%s" "$@" --threads 1\n' "$REAL_VPCED" >"$VPCED"
chmod +x "$VPCED"
setup_config
start_vpced
# $PID is the wrapper's, which exec'd vpced: the same process.
py_checks "$HERE/tcp_slow_read.py" "$PORT" "$ADMIN" "$APEX" "$PID" 10 4 "$DIR/summary"
[ -s "$DIR/summary" ] && echo "measured: $(cat "$DIR/summary")"
check_true "vpced still running" kill -0 "$PID"
