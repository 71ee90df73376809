#!/usr/bin/env bash
# Malformed DNS messages over UDP and TCP (design §5, docs/dns.md): dropped, FORMERR or NOTIMP with the
# query's ID, a short TCP length prefix closes the connection, idle TCP connections are closed (RFC 7766),
# and after every case vpced still answers dig and kdig. probe.py builds the packets (raw sockets, stdlib).
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config
start_vpced

# The idle-timeout cases take about the server's TCP idle timeout (10 s): run them while the others go on.
SLOW_CASES=(tcp-idle-no-query tcp-idle-after-answer)
declare -A SLOW_PIDS
for case in "${SLOW_CASES[@]}"; do
  "$PY" "$HERE/probe.py" "$PORT" "$APEX" "$case" >"$DIR/$case.out" 2>&1 &
  SLOW_PIDS[$case]=$!
done

mapfile -t CASES < <("$PY" "$HERE/probe.py" --list)
check_true "probe.py lists at least 30 cases (got ${#CASES[@]})" test "${#CASES[@]}" -ge 30

for case in "${CASES[@]}"; do
  out=$("$PY" "$HERE/probe.py" "$PORT" "$APEX" "$case" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then
    pass
  else
    while IFS= read -r line; do fail "malformed case $case: ${line#FAIL: }"; done <<<"$out"
  fi
  # A real client right after the case, over UDP and TCP.
  got=$(dig +short +time=2 +tries=1 +norec @127.0.0.1 -p "$PORT" "$APEX" SOA 2>&1)
  check_match "after $case: dig $APEX SOA over UDP" "^ns1\\.$APEX\\. " "$got"
  if [[ "$case" == tcp-* ]]; then
    got=$(kdig +short +tcp +time=2 +retry=0 +norec @127.0.0.1 -p "$PORT" "$APEX" SOA 2>&1)
    check_match "after $case: kdig +tcp $APEX SOA" "^ns1\\.$APEX\\. " "$got"
  fi
  if ! kill -0 "$PID" 2>/dev/null; then
    die "vpced died after malformed case $case"
  fi
done

check_true "vpced still running after all malformed cases" kill -0 "$PID"

for case in "${SLOW_CASES[@]}"; do
  wait "${SLOW_PIDS[$case]}"
  rc=$?
  if [ $rc -eq 0 ]; then
    pass
  else
    while IFS= read -r line; do fail "slow case $case: ${line#FAIL: }"; done <"$DIR/$case.out"
  fi
done
check_true "vpced still running after the idle connections" kill -0 "$PID"
