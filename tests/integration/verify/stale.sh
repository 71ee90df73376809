#!/usr/bin/env bash
# Every authoritative server must serve the value (design §6, docs/verification.md "Authoritative mode"):
# two NSD instances pinned for example.com; the record on the first only (the second is a stale secondary).
# The name stays pendingVerification, check after check, with a reason line per server (match / NXDOMAIN)
# and a hint naming the stale server; no private answer. Once the second server loads the new zone, the name
# is verified and the owning VPC gets the private answer.
# usage: stale.sh VPCED SOURCE_DIR VPCECTL
. "$(dirname "$(readlink -f "$0")")/../lib.sh"
. "$HERE/../views/common.sh"
. "$HERE/common.sh"

on_exit() {
  local rc=$?
  nsd_stop_all
  nsd_logs_on_failure
  (exit $rc)
  finish
}
trap on_exit EXIT

nsd_init fresh
nsd_init stale
setup_config
describe_to "$DIR/describe.json"
read -r TOK_NAME TOK_VALUE <<<"$(token_of "$DIR/describe.json")"
RECORD=$TOK_NAME.$PRIV
A_APP=$(eni_addrs "$DIR/describe.json" app-to-orders)
FRESH=127.0.0.1:${NSD_PORT[fresh]}
STALE=127.0.0.1:${NSD_PORT[stale]}
verify_config nameservers="$FRESH,$STALE" interval=1s give_up_after=1h recheck_every=1h

nsd_zone fresh "$TOK_NAME.api.orders IN TXT \"$TOK_VALUE\""
nsd_zone stale
nsd_start fresh
nsd_start stale
check_eq "fresh nsd serves the value" "\"$TOK_VALUE\"" "$(nsd_txt fresh "$RECORD")"
check_eq "stale nsd does not" "" "$(nsd_txt stale "$RECORD")"

start_vpced
start_ns=$(date +%s%N)
wait_show 10 'j.get("last_check")' || die "no check finished within 10 s of start: $(cat "$DIR/show.json" "$DIR/show.err")"
echo "first check done $(ms_since "$start_ns") ms after start"
REASONS=$(jfield "$DIR/show.json" reasons)
check_eq "one stale server: state" pendingVerification "$(jfield "$DIR/show.json" state)"
check_contains "one stale server: the fresh server matches" "$RECORD @ $FRESH (pinned): match" "$REASONS"
check_contains "one stale server: the stale server's NXDOMAIN" "$RECORD @ $STALE (pinned): NXDOMAIN" "$REASONS"
check_contains "one stale server: hint names the stale server" \
  "hint: $RECORD is served by 1 of 2 servers; not yet by $STALE (pinned)" "$REASONS"
check_contains "one stale server: both servers noted" "pinned by verify.nameservers \"example.com\": $FRESH, $STALE" "$REASONS"
if [[ "$REASONS" == *"not yet by $FRESH"* ]]; then fail "the hint names the fresh server as stale: $REASONS"; else pass; fi
check_eq "one stale server: matched_record empty" "" "$(jfield "$DIR/show.json" matched_record)"
first_check=$(jfield "$DIR/show.json" last_check)
wait_show 10 "j.get('last_check') != '$first_check'" || fail "no second check within 10 s (last_check stays $first_check)"
check_eq "one stale server, next check: still pending" pendingVerification "$(jfield "$DIR/show.json" state)"
check_eq "one stale server: state file" pendingVerification "$(state_field state)"
out=$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "one stale server: $PRIV from $APP is not private" REFUSED "$(dig_status "$out")"

# The secondary catches up.
nsd_zone stale "$TOK_NAME.api.orders IN TXT \"$TOK_VALUE\""
nsd_reload stale
wait_show 15 'j.get("state") == "verified"' ||
  fail "both servers serve the value: not verified within 15 s: $(jfield "$DIR/show.json" reasons)"
echo "verified $WAITED_MS ms after the stale server reloaded"
REASONS=$(jfield "$DIR/show.json" reasons)
check_contains "both servers: the first matches" "$RECORD @ $FRESH (pinned): match" "$REASONS"
check_contains "both servers: the second matches" "$RECORD @ $STALE (pinned): match" "$REASONS"
check_true "both servers: private answer for $APP within 5 s" wait_until 5 priv_is $APP "$A_APP"
check_true "vpced still running" kill -0 "$PID"
