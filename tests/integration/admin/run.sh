#!/usr/bin/env bash
# The admin HTTP API (docs/admin-api.md): health, readiness, Prometheus metrics that move with queries,
# describe, explain, errors; and the query log, off by default.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config
check_match "admin address in the test config" '^127\.0\.0\.1:[0-9]+$' "$ADMIN"
start_vpced
describe_to "$DIR/describe.json"
py_checks "$HERE/check_admin.py" "$ADMIN" "$PORT" "$DIR/describe.json"
check_eq "no query log lines by default" 0 "$(grep -c 'query from' "$LOG")"
stop_vpced

# With --query-log, each query is one log line.
"$VPCED" run -c "$CONF" --query-log 2>"$LOG" &
PID=$!
wait_answering
qdig "$APEX" NS >/dev/null
check_match "query log line" "query from 127\.0\.0\.1 udp $(re_escape "$APEX")\. type 2 view public rcode 0" "$(cat "$LOG")"
stop_vpced

# --log-level warn drops info lines (start-up summary, reloads) and keeps warnings and errors.
"$VPCED" run -c "$CONF" --log-level warn 2>"$LOG" &
PID=$!
wait_answering
sed -i 's/^ttl = .*/ttl = "broken"/' "$CONF"
kill -HUP "$PID"
for _ in $(seq 1 50); do
  grep -q 'reload (SIGHUP) failed' "$LOG" && break
  sleep 0.1
done
check_eq "no info lines with --log-level warn" 0 "$(grep -c ' info ' "$LOG")"
check_contains "the failed reload is still logged (warn)" "reload (SIGHUP) failed" "$(cat "$LOG")"
