#!/usr/bin/env bash
# Hostile authoritative servers (design §6 "Every failed check records why", docs/verification.md "Untrusted
# answers"): example.com is pinned to a server that never answers and one that answers garbage
# (hostile.py). vpced records the timeouts and malformed answers per server, shows the huge TXT values
# escaped and truncated, stays pendingVerification, keeps answering DNS at once while the checks hang, and
# stops cleanly on SIGTERM with queries in flight. Then verify_driver runs one Verifier with the daemon's
# c-ares transport against the same servers under AddressSanitizer/UBSan: no error, no leak.
# usage: hostile.sh VPCED SOURCE_DIR VPCECTL VERIFY_DRIVER
. "$(dirname "$(readlink -f "$0")")/../lib.sh"
. "$HERE/../views/common.sh"
. "$HERE/common.sh"

DRIVER=${4:-}
if [ -z "$DRIVER" ] || [ ! -x "$DRIVER" ]; then
  die "usage: $0 VPCED SOURCE_DIR VPCECTL VERIFY_DRIVER: '$DRIVER' is not executable"
fi
SERVE_SECONDS=75   # the hostile servers exit by themselves after this
SILENT_PID=""
GARBAGE_PID=""

stop_hostile() {
  local p
  for p in "$SILENT_PID" "$GARBAGE_PID"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  SILENT_PID=""
  GARBAGE_PID=""
}

on_exit() {
  local rc=$?
  stop_hostile
  (exit $rc)
  finish
}
trap on_exit EXIT

SILENT_PORT=$(free_port) || die "no free port"
GARBAGE_PORT=$(free_port) || die "no free port"
"$PY" "$HERE/hostile.py" silent "$SILENT_PORT" "$DIR/silent.ready" "$SERVE_SECONDS" >"$DIR/silent.out" 2>&1 &
SILENT_PID=$!
"$PY" "$HERE/hostile.py" garbage "$GARBAGE_PORT" "$DIR/garbage.ready" "$SERVE_SECONDS" >"$DIR/garbage.out" 2>&1 &
GARBAGE_PID=$!
wait_until 5 test -s "$DIR/silent.ready" || die "silent server did not start: $(cat "$DIR/silent.out")"
wait_until 5 test -s "$DIR/garbage.ready" || die "garbage server did not start: $(cat "$DIR/garbage.out")"
echo "garbage server: $(cat "$DIR/garbage.ready")"
SILENT=127.0.0.1:$SILENT_PORT
GARBAGE=127.0.0.1:$GARBAGE_PORT

setup_config
verify_config nameservers="$SILENT,$GARBAGE" interval=1s give_up_after=1h recheck_every=1h
describe_to "$DIR/describe.json"
read -r TOK_NAME _ <<<"$(token_of "$DIR/describe.json")"
RECORD=$TOK_NAME.$PRIV
REGIONAL=$(endpoint_field "$DIR/describe.json" app-to-orders regional)
A_APP=$(eni_addrs "$DIR/describe.json" app-to-orders)

start_vpced
start_ns=$(date +%s%N)

# While the first check waits for the silent server, DNS answers come at once.
worst=0
for i in $(seq 1 10); do
  t=$(date +%s%N)
  out=$(vdig $APP 127.0.0.1 "$PORT" "$REGIONAL" A)
  ms=$(ms_since "$t")
  [ "$ms" -gt "$worst" ] && worst=$ms
  check_eq "regional name from $APP during a hanging check ($i)" "$A_APP" "$(dig_a_set "$out")"
  sleep 0.2
done
check_true "DNS answers during the hanging check took at most $worst ms (< 500)" test "$worst" -lt 500
vshow || fail "verify show during the check: $(cat "$DIR/show.err")"
check_eq "during the first check: pending" pendingVerification "$(jfield "$DIR/show.json" state)"

# The first check ends when the silent server's queries time out (c-ares: 2 s, then 4 s), twice (the
# record, then the explanation of the miss).
wait_show 40 'j.get("last_check")' || die "no check finished within 40 s: $(cat "$DIR/show.json" "$DIR/show.err")"
echo "first check done $(ms_since "$start_ns") ms after start"
REASONS=$(jfield "$DIR/show.json" reasons)
check_eq "hostile servers: state" pendingVerification "$(jfield "$DIR/show.json" state)"
check_contains "silent server: timeout" "$RECORD @ $SILENT (pinned): timeout" "$REASONS"
check_contains "garbage server: malformed answer" "$RECORD @ $GARBAGE (pinned): malformed answer (" "$REASONS"
check_contains "garbage server: huge TXT shown as a value" "$TOK_NAME.orders.example.com @ $GARBAGE (pinned): different value: found \"" "$REASONS"
check_match "garbage server: the referral or error RCODE" \
  "$(re_escape "$TOK_NAME.example.com @ $GARBAGE (pinned): ")(not authoritative|SERVFAIL|REFUSED|error)" "$REASONS"
"$PY" - "$DIR/show.json" "$DIR/state/verification.json" <<'EOF' >"$DIR/shape.out" 2>&1
import json, sys
show = json.load(open(sys.argv[1]))
state = json.load(open(sys.argv[2]))["services"]["orders"]
bad = []
for line in show["reasons"]:
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in line):
        bad.append("raw control character in a reason: %r" % line)
    if len(line) > 8 * 330 + 600:  # at most 8 values shown per line
        bad.append("reason of %d characters" % len(line))
if len(show["reasons"]) > 200:
    bad.append("%d reasons" % len(show["reasons"]))
for d in state.get("details", []):
    for v in d.get("values", []):
        if len(v) > 80 * 4 + 3:  # 80 characters shown, each at most "\DDD", quotes and "…"
            bad.append("value of %d characters in details: %r" % (len(v), v[:100]))
print("\n".join(bad) or "ok")
sys.exit(1 if bad else 0)
EOF
shape_rc=$?
check_true "reasons and details are escaped and bounded: $(head -c 600 "$DIR/shape.out")" test $shape_rc -eq 0
check_eq "hostile servers: state file" pendingVerification "$(state_field state)"

# More checks against the garbage: vpced stays up and keeps answering.
first_check=$(jfield "$DIR/show.json" last_check)
wait_show 40 "j.get('last_check') != '$first_check'" || fail "no second check within 40 s"
echo "second check done $(ms_since "$start_ns") ms after start"
check_true "vpced still running after two checks against hostile servers" kill -0 "$PID"
check_eq "regional name from $APP after the checks" "$A_APP" "$(dig_a_set "$(vdig $APP 127.0.0.1 "$PORT" "$REGIONAL" A)")"
check_eq "$PRIV from $APP: not private" REFUSED "$(dig_status "$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)")"
out=$("$VPCECTL" --admin "$(admin_addr)" status 2>&1)
check_true "vpcectl status answers: $out" test $? -eq 0
# SIGTERM with queries in flight: exit 0 within 5 s (stop_vpced counts a failure otherwise).
stop_vpced
echo "garbage server: $(cat "$DIR/garbage.ready")"

# --- the verifier and its transport under AddressSanitizer / UBSan ----------------------------------------------
mkdir -p "$DIR/driver-state"
start_ns=$(date +%s%N)
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  timeout 40 "$DRIVER" 16 "$DIR/driver-state" "$SILENT" "$GARBAGE" >"$DIR/driver.out" 2>&1
rc=$?
echo "verify_driver: exit $rc after $(ms_since "$start_ns") ms"
sed 's/^/  driver: /' "$DIR/driver.out" | head -n 40
check_eq "verify_driver under ASan/UBSan: exit status" 0 "$rc"
check_true "verify_driver: no sanitizer report" test -z "$(grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$DIR/driver.out")"
check_contains "verify_driver: summary" "OK" "$(tail -n 1 "$DIR/driver.out")"
