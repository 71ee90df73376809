#!/usr/bin/env bash
# A verified name whose record disappears (design §6, docs/verification.md "Schedule"), with NSD pinned for
# example.com, interval 1s, recheck_every 2s, give_up_after 4s:
#   - published from the start: verified at the first check, private answer in the owning VPC;
#   - record removed (NSD reloaded): the next re-check misses, the name stays verified (private answer up)
#     with unmatched_since set, and goes failed give_up_after later; the private answer disappears; log line;
#   - failed is not checked automatically, even once the record is back;
#   - `vpcectl verify start orders` moves it back to pendingVerification and checks at once: verified again
#     (with the record), or pending and failed again give_up_after later (without).
# usage: giveup.sh VPCED SOURCE_DIR VPCECTL
. "$(dirname "$(readlink -f "$0")")/../lib.sh"
. "$HERE/../views/common.sh"
. "$HERE/common.sh"

GIVE_UP=4

on_exit() {
  local rc=$?
  nsd_stop_all
  nsd_logs_on_failure
  (exit $rc)
  finish
}
trap on_exit EXIT

nsd_init p
NS=127.0.0.1:${NSD_PORT[p]}
setup_config
verify_config nameservers="$NS" interval=1s give_up_after=${GIVE_UP}s recheck_every=2s
describe_to "$DIR/describe.json"
read -r TOK_NAME TOK_VALUE <<<"$(token_of "$DIR/describe.json")"
RECORD=$TOK_NAME.$PRIV
A_APP=$(eni_addrs "$DIR/describe.json" app-to-orders)
nsd_zone p "$TOK_NAME.api.orders IN TXT \"$TOK_VALUE\""
nsd_start p

start_vpced
wait_show 10 'j.get("state") == "verified"' || die "published record: not verified within 10 s: $(cat "$DIR/show.json")"
echo "verified $WAITED_MS ms after vpced answered"
check_true "verified: private answer for $APP within 5 s" wait_until 5 priv_is $APP "$A_APP"

# --- the record disappears ---------------------------------------------------------------------------------
nsd_zone p
nsd_reload p
removed_ns=$(date +%s%N)
check_eq "nsd no longer serves the value" "" "$(nsd_txt p "$RECORD")"
wait_show 10 "'$RECORD @ $NS (pinned): NXDOMAIN' in r" ||
  fail "no check missed the record within 10 s of its removal: $(jfield "$DIR/show.json" reasons)"
echo "first missing check $WAITED_MS ms after the removal"
check_eq "missing once: state stays verified" verified "$(jfield "$DIR/show.json" state)"
check_contains "missing once: reasons" "$RECORD @ $NS (pinned): NXDOMAIN" "$(jfield "$DIR/show.json" reasons)"
check_eq "missing once: private answer still up" "$A_APP" "$(priv_a $APP)"
check_match "missing once: unmatched_since in the state file" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(state_field unmatched_since)"

wait_show 20 'j.get("state") == "failed"' || fail "not failed within 20 s of the removal: $(cat "$DIR/show.json")"
echo "failed $(ms_since "$removed_ns") ms after the removal (give_up_after ${GIVE_UP}s)"
check_eq "failed: state file" failed "$(state_field state)"
"$PY" - "$DIR/state/verification.json" "$SERVICE" "$GIVE_UP" <<'EOF' >"$DIR/gap.out" 2>&1
import json, sys
from datetime import datetime
r = json.load(open(sys.argv[1]))["services"][sys.argv[2]]
t = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
gap = (t(r["since"]) - t(r["unmatched_since"])).total_seconds()
print(gap)
sys.exit(0 if int(sys.argv[3]) <= gap <= int(sys.argv[3]) + 3 else 1)
EOF
gap_rc=$?
check_true "failed: since - unmatched_since within [give_up_after, +3 s] ($(cat "$DIR/gap.out"))" test $gap_rc -eq 0
check_true "failed: private answer gone from $APP within 5 s" wait_until 5 priv_is_not $APP "$A_APP"
out=$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "failed: $PRIV A from $APP" REFUSED "$(dig_status "$out")"
check_true "failed: log line" grep -q "verification: service '$SERVICE' $PRIV: verified -> failed" "$LOG"

# --- failed stays failed, even with the record back ----------------------------------------------------------
nsd_zone p "$TOK_NAME.api.orders IN TXT \"$TOK_VALUE\""
nsd_reload p
failed_check=$(state_field last_check)
# An observation window of a bit more than two intervals, not a synchronisation: nothing may happen in it.
sleep 2.5
vshow || fail "verify show: $(cat "$DIR/show.err")"
check_eq "failed, record back: still failed (no automatic check)" failed "$(jfield "$DIR/show.json" state)"
check_eq "failed, record back: last_check unchanged" "$failed_check" "$(jfield "$DIR/show.json" last_check)"

# --- vpcectl verify start: back to pending, checked at once (the answer comes once that check is done) -----
start_ns=$(date +%s%N)
out=$("$VPCECTL" --admin "$(admin_addr)" verify start "$SERVICE" --json 2>&1)
echo "verify start answered in $(ms_since "$start_ns") ms"
check_eq "verify start, record back: the answer (after its check) says verified" verified \
  "$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1]).get("state"))' "$out" 2>&1)"
# The answer comes once the daemon has seen the new state: saved, and the private zone back, at once.
check_eq "verify start, record back: state file at once" verified "$(state_field state)"
check_eq "verify start, record back: private answer for $APP at once" "$A_APP" "$(priv_a $APP)"
check_true "verify start: log line failed -> pendingVerification" \
  grep -q "verification: service '$SERVICE' $PRIV: failed -> pendingVerification" "$LOG"
check_true "verify start: log line pendingVerification -> verified" \
  grep -q "verification: service '$SERVICE' $PRIV: pendingVerification -> verified" "$LOG"
check_true "verified again: private answer for $APP within 5 s" wait_until 5 priv_is $APP "$A_APP"

# verify start on a verified name whose record is gone: checked now, still verified (unmatched).
nsd_zone p
nsd_reload p
out=$("$VPCECTL" --admin "$(admin_addr)" verify start "$SERVICE" 2>&1)
check_contains "verify start (text) on a verified name" "checked $SERVICE now" "$out"
check_contains "verify start (text) on a verified name, record gone: still verified" "state: verified" "$out"
check_contains "verify start (text): the findings of that check" "$RECORD @ $NS (pinned): NXDOMAIN" "$out"
wait_show 20 'j.get("state") == "failed"' || fail "record removed again: not failed within 20 s"
echo "failed again $WAITED_MS ms after verify start"

# verify start on a failed name that still cannot verify: pendingVerification, failed again give_up_after later.
out=$("$VPCECTL" --admin "$(admin_addr)" verify start "$SERVICE" 2>&1)
check_contains "verify start (text) on a failed name, no record: pending" "state: pendingVerification" "$out"
vshow || fail "verify show: $(cat "$DIR/show.err")"
check_eq "verify start, no record: pending right after" pendingVerification "$(jfield "$DIR/show.json" state)"
check_eq "verify start, no record: no private answer" REFUSED "$(dig_status "$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)")"
wait_show 20 'j.get("state") == "failed"' || fail "verify start, no record: not failed again within 20 s"
echo "failed again $WAITED_MS ms after verify start without a record"
out=$("$VPCECTL" --admin "$(admin_addr)" verify start nosuchservice 2>&1)
check_true "verify start on an unknown service fails" test $? -ne 0
check_contains "verify start on an unknown service: message" "nosuchservice" "$out"
check_true "vpced still running" kill -0 "$PID"
