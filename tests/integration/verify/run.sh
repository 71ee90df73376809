#!/usr/bin/env bash
# Private DNS name verification end to end (design §6, docs/verification.md) against a real authoritative
# server: NSD on loopback serves example.com and is pinned in verify.nameservers; the verifier checks every
# second.
#   1. No record: the name stays pendingVerification, check after check; the reasons name the record, the
#      server and NXDOMAIN; no private answer.
#   3. Near misses published (value without "vpce:", lowercased, with quotes inside, and the right value at
#      the private name itself): still pending; the reasons show the values found and the matching hints.
#   2. The right value published and NSD reloaded: verified within a few intervals; the private answer goes
#      to the owning VPC (dig -b 127.16.0.10 gets app-to-orders's ENIs) and not to the public view; a log
#      line for the change; state/verification.json says verified.
#   6. kill -9 of vpced, NSD stopped, vpced restarted: still verified, the private answer served at once,
#      and no re-check at start (recheck_every is honoured from the persisted last_check).
# usage: run.sh VPCED SOURCE_DIR VPCECTL
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

nsd_init p
nsd_zone p
nsd_start p
NS=127.0.0.1:${NSD_PORT[p]}

setup_config
verify_config nameservers="$NS" interval=1s give_up_after=1h recheck_every=1h
describe_to "$DIR/describe.json"
read -r TOK_NAME TOK_VALUE <<<"$(token_of "$DIR/describe.json")"
check_match "token name" '^_[a-z0-9]{20}$' "$TOK_NAME"
check_match "token value" '^vpce:[A-Za-z0-9]{20}$' "$TOK_VALUE"
RECORD=$TOK_NAME.$PRIV
A_APP=$(eni_addrs "$DIR/describe.json" app-to-orders)
check_match "app-to-orders ENIs" '^127\.16\.' "$A_APP"

start_vpced
start_ns=$(date +%s%N)

# --- 1. no record ------------------------------------------------------------------------------------------
wait_show 10 'j.get("last_check")' || die "no check finished within 10 s of start: $(cat "$DIR/show.json" "$DIR/show.err")"
echo "case 1: first check done $(ms_since "$start_ns") ms after start"
check_eq "no record: state" pendingVerification "$(jfield "$DIR/show.json" state)"
REASONS=$(jfield "$DIR/show.json" reasons)
check_contains "no record: reasons name record, server and NXDOMAIN" "$RECORD @ $NS (pinned): NXDOMAIN" "$REASONS"
check_contains "no record: reasons cover the parent candidates" "$TOK_NAME.example.com @ $NS (pinned): NXDOMAIN" "$REASONS"
check_contains "no record: hint says where to publish" "hint: no server has any TXT record at $RECORD" "$REASONS"
check_contains "no record: the pin is noted" "pinned by verify.nameservers \"example.com\": $NS" "$REASONS"
check_eq "no record: record.name" "$RECORD" "$(jfield "$DIR/show.json" record | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["name"])')"
check_eq "no record: zone_file_line" "$RECORD. 300 IN TXT \"$TOK_VALUE\"" "$(jfield "$DIR/show.json" zone_file_line)"
DIG_CMD=$(jfield "$DIR/show.json" dig)
check_eq "no record: dig command aims at the pinned server" "dig +norec @127.0.0.1 -p ${NSD_PORT[p]} $RECORD TXT" "$DIG_CMD"
# The ready dig command works as printed (NXDOMAIN for now).
read -r -a dig_words <<<"$DIG_CMD"
check_eq "no record: the printed dig command gets NXDOMAIN" NXDOMAIN "$(dig_status "$("${dig_words[@]}" +time=2 +tries=1 2>&1)")"
out=$("$VPCECTL" --admin "$(admin_addr)" verify show "$SERVICE" 2>&1)
check_contains "verify show (text): state" "state: pendingVerification" "$out"
check_contains "verify show (text): the zone-file line" "$RECORD. 300 IN TXT \"$TOK_VALUE\"" "$out"
check_contains "verify show (text): last check findings" "$RECORD @ $NS (pinned): NXDOMAIN" "$out"
# It stays pending, check after check.
first_check=$(jfield "$DIR/show.json" last_check)
wait_show 10 "j.get('last_check') != '$first_check'" || fail "no second check within 10 s (last_check stays $first_check)"
echo "case 1: next check after $WAITED_MS ms"
check_eq "no record, next check: state" pendingVerification "$(jfield "$DIR/show.json" state)"
check_eq "no record: state file" pendingVerification "$(state_field state)"
out=$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "no record: $PRIV from $APP is not private (REFUSED, no forwarders)" REFUSED "$(dig_status "$out")"

# --- 3. near misses ----------------------------------------------------------------------------------------
SUFFIX=${TOK_VALUE#vpce:}
LOWER=${TOK_VALUE,,}
nsd_zone p "$TOK_NAME.api.orders IN TXT \"$SUFFIX\"" "$TOK_NAME.api.orders IN TXT \"$LOWER\"" \
  "$TOK_NAME.api.orders IN TXT \"\\\"$TOK_VALUE\\\"\"" "api.orders IN TXT \"$TOK_VALUE\""
nsd_reload p
check_eq "nsd serves the three near misses" 3 "$(nsd_txt p "$RECORD" | wc -l)"
wait_show 10 '"different value" in r' || fail "near misses: no 'different value' within 10 s: $(jfield "$DIR/show.json" reasons)"
echo "case 3: near misses reported $WAITED_MS ms after the NSD reload"
REASONS=$(jfield "$DIR/show.json" reasons)
check_eq "near misses: state" pendingVerification "$(jfield "$DIR/show.json" state)"
check_contains "near misses: reason line" "$RECORD @ $NS (pinned): different value: found " "$REASONS"
check_contains "near misses: value without vpce: shown" "\"$SUFFIX\"" "$REASONS"
check_contains "near misses: lowercased value shown" "\"$LOWER\"" "$REASONS"
check_contains "near misses: quoted value shown escaped" "\"\\\"$TOK_VALUE\\\"\"" "$REASONS"
check_contains "near misses: hint for the missing prefix" "hint: TXT $RECORD: the value lacks the \"vpce:\" prefix" "$REASONS"
check_contains "near misses: hint for letter case" "hint: TXT $RECORD: the value differs only in letter case" "$REASONS"
check_contains "near misses: hint for quotes" "hint: TXT $RECORD: the value has quote characters inside it" "$REASONS"
check_contains "near misses: hint for the value at the private name itself" \
  "hint: the value is published at $PRIV (the private DNS name itself), without the $TOK_NAME label" "$REASONS"
check_eq "near misses: matched_record empty" "" "$(jfield "$DIR/show.json" matched_record)"
out=$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "near misses: $PRIV from $APP is not private" REFUSED "$(dig_status "$out")"

# --- 2. the right record -----------------------------------------------------------------------------------
nsd_zone p "$TOK_NAME.api.orders IN TXT \"$TOK_VALUE\""
nsd_reload p
check_eq "nsd serves the value" "\"$TOK_VALUE\"" "$(nsd_txt p "$RECORD")"
check_eq "the printed dig command now gets the value" "\"$TOK_VALUE\"" "$("${dig_words[@]}" +short +time=2 +tries=1 2>&1)"
wait_show 15 'j.get("state") == "verified"' ||
  fail "record published: not verified within 15 s: $(jfield "$DIR/show.json" state) $(jfield "$DIR/show.json" reasons)"
echo "case 2: verified $WAITED_MS ms after the NSD reload"
REASONS=$(jfield "$DIR/show.json" reasons)
check_eq "verified: matched_record" "$RECORD" "$(jfield "$DIR/show.json" matched_record)"
check_contains "verified: reasons" "verified: TXT $RECORD holds the value on every server asked" "$REASONS"
check_contains "verified: the server's line" "$RECORD @ $NS (pinned): match" "$REASONS"
check_true "verified: private answer for $APP within 5 s" wait_until 5 priv_is $APP "$A_APP"
out=$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "verified: $PRIV A from $APP: app-to-orders's ENIs" "$A_APP" "$(dig_a_set "$out")"
check_match "verified: $PRIV A from $APP: AA" '(^| )aa( |$)' "$(dig_flags "$out")"
out=$(vdig $PUB 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "verified: $PRIV A from $PUB: REFUSED (public view, no forwarders)" REFUSED "$(dig_status "$out")"
check_eq "verified: $PRIV A from $PUB: no answer" "" "$(dig_a_set "$out")"
check_eq "verified: state file" verified "$(state_field state)"
check_eq "verified: state file token" "$TOK_VALUE" "$(state_field token_value)"
check_eq "verified: state file matched_record" "$RECORD" "$(state_field matched_record)"
check_true "verified: log line for the change" \
  grep -q "verification: service '$SERVICE' $PRIV: pendingVerification -> verified" "$LOG"
"$VPCECTL" --admin "$(admin_addr)" describe --json >"$DIR/live.json" 2>&1 || fail "vpcectl describe --json failed"
check_eq "verified: live describe PrivateDnsNameConfiguration.State" verified "$("$PY" -c '
import json, sys
for s in json.load(open(sys.argv[1]))["ServiceConfigurations"]:
    if s.get("PrivateDnsName") == sys.argv[2]: print(s["PrivateDnsNameConfiguration"]["State"])' "$DIR/live.json" "$PRIV")"
VERIFIED_CHECK=$(state_field last_check)
VERIFIED_SINCE=$(state_field since)

# --- 6. kill -9, restart with the provider's DNS down -------------------------------------------------------
{ kill -KILL "$PID" && wait "$PID"; } 2>/dev/null
PID=""
cp "$LOG" "$DIR/vpced.first.log"
nsd_stop p
start_vpced
out=$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "after kill -9 and restart: $PRIV A from $APP at once" "$A_APP" "$(dig_a_set "$out")"
vshow || fail "verify show after restart: $(cat "$DIR/show.err")"
check_eq "after restart: state" verified "$(jfield "$DIR/show.json" state)"
check_eq "after restart: since kept" "$VERIFIED_SINCE" "$(jfield "$DIR/show.json" since)"
check_eq "after restart: state file" verified "$(state_field state)"
check_eq "after restart: no re-check at start (last_check kept)" "$VERIFIED_CHECK" "$(jfield "$DIR/show.json" last_check)"
out=$(vdig $PUB 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "after restart: $PRIV A from $PUB still REFUSED" REFUSED "$(dig_status "$out")"
check_true "vpced still running" kill -0 "$PID"
