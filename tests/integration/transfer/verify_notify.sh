#!/usr/bin/env bash
# A verification change reaches the secondaries through NOTIFY (docs/secondaries.md, docs/verification.md).
# vpced runs the docs' [transfer] block with the docs' three secondaries (Knot and NSD for the public zone, a
# Knot for vpc-0a000001's private zone); a real NSD serves example.com, pinned in verify.nameservers, at first
# without the orders service's TXT token, so api.orders.example.com is in no view and the VPC's Knot has nothing
# to serve. Then the token is published, NSD reloaded and a check started (POST /v1/services/orders/verify):
#   - the service is verified, and vpced serves the private zone in vpc-0a000001's view with a grown serial;
#   - the VPC's Knot gets a NOTIFY for it and serves that serial within ~10 s, answering every A name of the
#     zone as vpced does in that view;
#   - the public zone's content does not depend on verification: it gets no NOTIFY, the public Knot keeps the
#     serial it had (identical records), and both public secondaries still answer as vpced does.
# usage: verify_notify.sh VPCED SOURCE_DIR VPCECTL
. "$(dirname "$(readlink -f "$0")")/../lib.sh"
. "$HERE/../views/common.sh"
. "$HERE/../verify/common.sh"   # NSD as example.com's server (nsd_init/nsd_zone/nsd_start/nsd_reload), PRIV, APP

command -v knotd >/dev/null || die "knotd is not installed (scripts/install-deps.sh: knot)"

KNOT_PID=""
KNOT_VPC_PID=""
NSD2_PID=""   # the docs' NSD secondary (the NSD serving example.com is verify/common.sh's instance "p")

on_exit() {
  local rc=$?
  stop_by_pid knotd "$KNOT_PID"
  stop_by_pid knotd "$KNOT_VPC_PID"
  stop_by_pid nsd "$NSD2_PID"
  nsd_stop_all
  if [ "$FAILS" -gt 0 ]; then
    for f in "$DIR/knot/knot.log" "$DIR/knot-vpc-a/knot.log" "$DIR/nsd/nsd.log"; do
      [ -s "$f" ] && { echo "---- $f ----" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  nsd_logs_on_failure
  (exit $rc)
  finish
}
trap on_exit EXIT

# --- example.com's authoritative server, without the token -------------------------------------------------
nsd_init p
nsd_zone p
nsd_start p
NS=127.0.0.1:${NSD_PORT[p]}

# --- vpced: the example config, the docs' [transfer], verification against NSD every second ---------------
setup_config
verify_config nameservers="$NS" interval=1s give_up_after=1h recheck_every=1h
KNOT_PORT=$(free_port) || die "no free port"
KNOT_VPC_PORT=$(free_port) || die "no free port"
NSD2_PORT=$(free_port) || die "no free port"
[ "$(printf '%s\n' "$KNOT_PORT" "$KNOT_VPC_PORT" "$NSD2_PORT" "$PORT" "${NSD_PORT[p]}" | sort -u | wc -l)" -eq 5 ] ||
  die "free_port returned the same port twice"
PUB_SECRET=$(openssl rand -base64 32)
VPC_SECRET=$(openssl rand -base64 32)
echo "$PUB_SECRET" >"$DIR/pub.key"
echo "$VPC_SECRET" >"$DIR/vpc-a.key"
chmod 600 "$DIR/pub.key" "$DIR/vpc-a.key"
DOC="$SRC/docs/secondaries.md"
"$PY" "$HERE/docs_block.py" "$DOC" "toml vpced.toml (Knot, NSD)" --toml-into "$CONF" "KNOT_PORT=$KNOT_PORT" \
  "NSD_PORT=$NSD2_PORT" "KNOT_VPC_PORT=$KNOT_VPC_PORT" || die "cannot take [transfer] from $DOC into $CONF"
out=$("$VPCED" check -c "$CONF" 2>&1) || die "vpced check rejects the test config: $out"

# The token as the verifier expects it (state/identity.json, written by describe).
describe_to "$DIR/describe.json"
read -r TOK_NAME TOK_VALUE TOK_DOMAIN <<<"$("$PY" - "$DIR/state/identity.json" "$SERVICE" <<'EOF'
import json, sys
tok = json.load(open(sys.argv[1]))["services"][sys.argv[2]]["verification"]
print(tok["name"], tok["value"], tok["domain_name"])
EOF
)"
check_eq "the token is for $PRIV" "$PRIV" "$TOK_DOMAIN"
check_match "token value" '^vpce:[A-Za-z0-9]{20}$' "$TOK_VALUE"
A_APP=$(eni_addrs "$DIR/describe.json" app-to-orders)
check_match "app-to-orders ENIs" '^127\.16\.' "$A_APP"
VPC_KEY="hmac-sha256:vpc-a-key:$VPC_SECRET"
PUB_KEY="hmac-sha256:pub-key:$PUB_SECRET"

start_vpced
wait_show 10 'j.get("last_check")' || die "no check finished within 10 s of start: $(cat "$DIR/show.json" "$DIR/show.err")"
check_eq "no token yet: pendingVerification" pendingVerification "$(jfield "$DIR/show.json" state)"
S0=$(qdig +short "$APEX" SOA | awk '{print $3}')
check_match "vpced serial" '^[0-9]+$' "$S0"

# Not verified: the private zone is in no view, and no transfer of it gets records.
out=$(vdig "$APP" 127.0.0.1 "$PORT" "$PRIV" SOA)
check_match "before: $PRIV SOA from $APP (vpc-0a000001) is not served" '^(REFUSED|NXDOMAIN)$' "$(dig_status "$out")"
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "$VPC_KEY" "$PRIV" AXFR 2>&1)
check_eq "before: AXFR of $PRIV with the VPC's key: no records" 0 "$(grep -c "IN[[:space:]]*\(A\|SOA\)[[:space:]]" <<<"$out")"

# --- the docs' secondaries ----------------------------------------------------------------------------------
mkdir -p "$DIR/knot" "$DIR/knot-vpc-a" "$DIR/nsd"
"$PY" "$HERE/docs_block.py" "$DOC" "yaml knot.conf" "$DIR/knot/knot.conf" "\$DIR=$DIR" "KNOT_PORT=$KNOT_PORT" \
  "VPCED_PORT=$PORT" "PUB_SECRET=$PUB_SECRET" || die "cannot take knot.conf from $DOC"
"$PY" "$HERE/docs_block.py" "$DOC" "yaml knot-vpc-a.conf" "$DIR/knot-vpc-a/knot.conf" "\$DIR=$DIR" \
  "KNOT_VPC_PORT=$KNOT_VPC_PORT" "VPCED_PORT=$PORT" "VPC_SECRET=$VPC_SECRET" || die "cannot take knot-vpc-a.conf from $DOC"
"$PY" "$HERE/docs_block.py" "$DOC" "yaml nsd.conf" "$DIR/nsd/nsd.conf" "\$DIR=$DIR" "NSD_PORT=$NSD2_PORT" \
  "VPCED_PORT=$PORT" "PUB_SECRET=$PUB_SECRET" || die "cannot take nsd.conf from $DOC"
knotd -c "$DIR/knot/knot.conf" 2>>"$DIR/knot/knot.log" &
KNOT_PID=$!
knotd -c "$DIR/knot-vpc-a/knot.conf" 2>>"$DIR/knot-vpc-a/knot.log" &
KNOT_VPC_PID=$!
nsd -d -c "$DIR/nsd/nsd.conf" 2>>"$DIR/nsd/nsd.log" &
NSD2_PID=$!

# sec_soa PORT ZONE: "STATUS SERIAL" of a secondary's SOA answer ("" when it does not answer).
sec_soa() {
  local out
  out=$(dig +time=1 +tries=1 +norec @127.0.0.1 -p "$1" "$2" SOA 2>&1)
  echo "$(dig_status "$out") $(awk '!/^;/ && $4 == "SOA" {print $7}' <<<"$out" | head -n 1)"
}
# wait_soa WHAT PORT ZONE "STATUS SERIAL" SECONDS: polls until the secondary answers so; sets WAITED_MS.
wait_soa() {
  local got="" start i
  start=$(date +%s%N)
  for i in $(seq 1 $(($5 * 5))); do
    got=$(sec_soa "$2" "$3")
    if [ "$got" == "$4" ]; then WAITED_MS=$(ms_since "$start"); pass; return 0; fi
    sleep 0.2   # poll interval; the loop ends on the first match
  done
  fail "$1: $3 SOA '$got', expected '$4' within $5 s"
  return 1
}
wait_soa "knot (public)" "$KNOT_PORT" "$APEX" "NOERROR $S0" 15
wait_soa "nsd (public)" "$NSD2_PORT" "$APEX" "NOERROR $S0" 15
# The VPC's Knot is up (it answers), but has no data for the zone vpced does not serve yet.
knot_vpc_answers() { [ -n "$(sec_soa "$KNOT_VPC_PORT" "$PRIV" | awk '{print $1}')" ]; }
wait_until 10 knot_vpc_answers || die "knot (vpc-0a000001) does not answer on 127.0.0.1:$KNOT_VPC_PORT within 10 s"
before=$(sec_soa "$KNOT_VPC_PORT" "$PRIV")
check_true "before: knot (vpc-0a000001) does not serve $PRIV (got '$before')" test "${before%% *}" != NOERROR
# vpced's start-up NOTIFY of the public zone (retried until acknowledged) has reached both public secondaries,
# and the public Knot has done the refresh it prompted: any NOTIFY they log from here on would be for the
# verification change, and the public Knot has no refresh pending (SOA refresh: 3600 s).
knot_notified() {
  awk -v n="[$APEX.] notify, incoming" -v r="[$APEX.] refresh, remote " \
    'index($0, n) {seen = 1} seen && index($0, r) {done = 1} END {exit !done}' "$DIR/knot/knot.log"
}
nsd_notified() { grep -q "notify for $APEX\. from 127\.0\.0\.1" "$DIR/nsd/nsd.log"; }
check_true "knot (public) got the start-up NOTIFY within 10 s" wait_until 10 knot_notified
check_true "nsd (public) got the start-up NOTIFY within 10 s" wait_until 10 nsd_notified
KNOT_LOG_AT=$(wc -c <"$DIR/knot/knot.log")
KNOT_VPC_LOG_AT=$(wc -c <"$DIR/knot-vpc-a/knot.log")
NSD2_LOG_AT=$(wc -c <"$DIR/nsd/nsd.log")

# --- the change: the token published, NSD reloaded, a check started ----------------------------------------
nsd_zone p "$TOK_NAME.${PRIV%.example.com} IN TXT \"$TOK_VALUE\""
nsd_reload p
check_eq "nsd serves the token" "\"$TOK_VALUE\"" "$(nsd_txt p "$TOK_NAME.$PRIV")"
change_ns=$(date +%s%N)
out=$(api POST "/v1/services/$SERVICE/verify")
check_match "POST /v1/services/$SERVICE/verify" '^200 ' "$out"
wait_show 10 'j.get("state") == "verified"' ||
  fail "not verified within 10 s of the check: $(jfield "$DIR/show.json" state) $(jfield "$DIR/show.json" reasons)"
check_eq "admin API: state verified" verified "$("$PY" -c '
import json, sys
print(json.loads(sys.argv[1].split(" ", 1)[1]).get("state"))' "$(api GET "/v1/services/$SERVICE/verify")")"
echo "verified $(ms_since "$change_ns") ms after the check started"

# vpced serves the private zone in the VPC's view, with a grown serial (one serial for every zone).
vpced_priv_serial() { vdig "$APP" 127.0.0.1 "$PORT" "$PRIV" SOA | awk '!/^;/ && $4 == "SOA" {print $7}' | head -n 1; }
S1=""
for _ in $(seq 1 25); do
  S1=$(vpced_priv_serial)
  [ -n "$S1" ] && break
  sleep 0.2   # poll interval
done
check_match "vpced serves $PRIV SOA in vpc-0a000001's view" '^[0-9]+$' "$S1"
check_true "the serial grew with the verification ($S0 → $S1)" test "${S1:-0}" -gt "$S0"
check_eq "vpced's public zone has the same serial" "$S1" "$(qdig +short "$APEX" SOA | awk '{print $3}')"
check_eq "vpced: $PRIV A from $APP" "$A_APP" "$(dig_a_set "$(vdig "$APP" 127.0.0.1 "$PORT" "$PRIV" A)")"

# The VPC's Knot hears of it through NOTIFY and serves vpced's serial within ~10 s.
wait_soa "knot (vpc-0a000001) after the verification" "$KNOT_VPC_PORT" "$PRIV" "NOERROR $S1" 10 &&
  echo "knot (vpc-0a000001) served serial $S1 $(ms_since "$change_ns") ms after the check started"
knot_vpc_new=$(tail -c +"$((KNOT_VPC_LOG_AT + 1))" "$DIR/knot-vpc-a/knot.log")
check_match "knot (vpc-0a000001) got a NOTIFY for $PRIV" \
  "\[$(re_escape "$PRIV.")\] notify, incoming, remote 127\.0\.0\.1@[0-9]+" "$knot_vpc_new"
check_match "knot (vpc-0a000001) had no $PRIV and transferred serial $S1" \
  "\[$(re_escape "$PRIV.")\] refresh, remote 127\.0\.0\.1@$PORT, zone updated, .*serial none -> $S1" "$knot_vpc_new"

# same_a WHAT PORT ZONE KEY SOURCE: every A owner of vpced's AXFR of ZONE (signed with KEY) gets the same A set
# from the secondary as from vpced asked from SOURCE.
same_a() {
  local what=$1 port=$2 zone=$3 key=$4 src=$5 owners o a b bad=0
  owners=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "$key" "$zone" AXFR 2>/dev/null |
           awk '$4 == "A" {print $1}' | sort -u)
  [ -n "$owners" ] || { fail "$what: vpced's AXFR of $zone has no A records"; return; }
  for o in $owners; do
    a=$(dig_a_set "$(vdig "$src" 127.0.0.1 "$PORT" "$o" A)")
    b=$(dig_a_set "$(dig +time=2 +tries=1 +norec @127.0.0.1 -p "$port" "$o" A 2>&1)")
    [ -n "$a" ] && [ "$a" == "$b" ] || { bad=1; fail "$what: $o A: vpced '$a', secondary '$b'"; }
  done
  [ $bad -eq 0 ] && pass
}
same_a "knot (vpc-0a000001)" "$KNOT_VPC_PORT" "$PRIV" "$VPC_KEY" "$APP"
check_eq "knot (vpc-0a000001): $PRIV A" "$A_APP" "$(dig_a_set "$(dig +time=2 +tries=1 +norec @127.0.0.1 -p "$KNOT_VPC_PORT" "$PRIV" A 2>&1)")"

# The public zone's content did not change (verification only adds private zones): no NOTIFY for it. The
# public Knot, with no refresh pending, keeps serial $S0; the NSD may have picked up $S1 if the SOA query its
# start-up NOTIFY prompted came after the change; both answer every name as vpced does.
knot_new=$(tail -c +"$((KNOT_LOG_AT + 1))" "$DIR/knot/knot.log")
[[ "$knot_new" != *"notify, incoming"* ]] && pass || fail "knot (public) got a NOTIFY for an unchanged zone: $knot_new"
nsd2_new=$(tail -c +"$((NSD2_LOG_AT + 1))" "$DIR/nsd/nsd.log")
[[ "$nsd2_new" != *"notify for $APEX"* ]] && pass || fail "nsd (public) got a NOTIFY for an unchanged zone: $nsd2_new"
check_eq "knot (public) keeps serial $S0" "NOERROR $S0" "$(sec_soa "$KNOT_PORT" "$APEX")"
check_match "nsd (public) serves $S0 or $S1" "^NOERROR ($S0|$S1)\$" "$(sec_soa "$NSD2_PORT" "$APEX")"
same_a "knot (public)" "$KNOT_PORT" "$APEX" "$PUB_KEY" 127.0.0.1
same_a "nsd (public)" "$NSD2_PORT" "$APEX" "$PUB_KEY" 127.0.0.1
check_true "vpced still running" kill -0 "$PID"
