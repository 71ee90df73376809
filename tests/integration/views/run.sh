#!/usr/bin/env bash
# Split-horizon views (design §5, docs/dns.md "Views"): the private DNS name of a verified service answers
# with the querying VPC's own endpoint's ENI addresses, chosen by dns_clients prefix, by a VPC-dedicated
# listener, or by EDNS Client Subnet from a trusted source; never in another VPC, the public view, for a
# pending endpoint, or while the name is not verified (pendingVerification, failed, stale token, missing).
# Private zones: NXDOMAIN/NODATA with their own SOA, wildcard synthesis (RFC 4592), and `vpced zone --view`
# output that named-checkzone and kzonecheck accept.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"
. "$HERE/common.sh"

PRIV=api.orders.example.com
APP=127.16.0.10      # vpc-0a000001: app-to-orders (available); app-to-wild has private DNS disabled
APP2=127.16.200.77   # another source in the same VPC
BILL=127.17.0.10     # vpc-0b000002: billing-to-orders (available), legacy-to-orders (rejected, DNS off)
REPT=127.18.0.10     # vpc-0c000003: reports-to-orders (pendingAcceptance), reports-to-wild (available)
PUB=127.0.0.1        # no VPC: the public view
UNTRUSTED=127.0.0.2  # no VPC, not in trust_ecs_from
LADDR=127.0.0.77     # vpc-0a000001's dedicated listener

setup_config
LPORT=$(free_port_on "$LADDR") || die "no free port on $LADDR"
"$PY" "$HERE/edit_config.py" "$CONF" --vpc-listen vpc-0a000001 "$LADDR:$LPORT" --trust-ecs 127.0.0.1/32 --wild ||
  die "cannot edit $CONF"
out=$("$VPCED" check -c "$CONF" 2>&1) || die "vpced check rejects the test config: $out"

reload_api() {  # reload_api WHY: POST /v1/reload must succeed
  local out
  out=$(api POST /v1/reload)
  if [[ "$out" == "200 "*'"ok": true'* ]]; then pass; else fail "reload ($1): $out"; fi
}

# --- before any verification: describe says pendingVerification, no private names anywhere --------------
describe_to "$DIR/describe0.json"   # also generates the verification tokens
state_of() {  # state_of DESCRIBE PRIVATE-NAME -> PrivateDnsNameConfiguration.State
  "$PY" -c '
import json, sys
for s in json.load(open(sys.argv[1]))["ServiceConfigurations"]:
    if s.get("PrivateDnsName") == sys.argv[2]:
        print(s["PrivateDnsNameConfiguration"]["State"])' "$1" "$2"
}
check_eq "describe before seeding: $PRIV state" pendingVerification "$(state_of "$DIR/describe0.json" "$PRIV")"
check_eq "describe before seeding: *.wild.example.net state" pendingVerification \
  "$(state_of "$DIR/describe0.json" '*.wild.example.net')"
for ep in app-to-orders billing-to-orders reports-to-wild; do
  check_eq "describe before seeding: no private DnsEntry for $ep" "" "$(endpoint_field "$DIR/describe0.json" "$ep" private)"
done
for vpc in vpc-0a000001 vpc-0b000002 vpc-0c000003; do
  z=$("$VPCED" zone -c "$CONF" --view "$vpc" 2>&1)
  check_eq "vpced zone --view $vpc before seeding: no \$ORIGIN (output: $z)" 0 "$(grep -c '^\$ORIGIN' <<<"$z")"
done

A_APP=$(eni_addrs "$DIR/describe0.json" app-to-orders)
A_BILL=$(eni_addrs "$DIR/describe0.json" billing-to-orders)
A_REPT=$(eni_addrs "$DIR/describe0.json" reports-to-orders)
A_WILD=$(eni_addrs "$DIR/describe0.json" reports-to-wild)
A_APPWILD=$(eni_addrs "$DIR/describe0.json" app-to-wild)
REGIONAL=$(endpoint_field "$DIR/describe0.json" app-to-orders regional)
check_match "app-to-orders has ENI addresses in 127.16/16" '^127\.16\.[0-9.,]+$' "$A_APP"
check_match "billing-to-orders has ENI addresses in 127.17/16" '^127\.17\.[0-9.,]+$' "$A_BILL"
check_match "reports-to-orders has ENI addresses in 127.18/16" '^127\.18\.[0-9.,]+$' "$A_REPT"
check_match "reports-to-wild has ENI addresses in 127.18/16" '^127\.18\.[0-9.,]+$' "$A_WILD"
check_eq "reports-to-orders is pendingAcceptance" pendingAcceptance "$(endpoint_field "$DIR/describe0.json" reports-to-orders State)"

start_vpced
# The dedicated listener answers too (start_vpced polled only server.dns_listen).
LISTENER_UP=yes
wait_until 5 bash -c "dig +short +time=1 +tries=1 @$LADDR -p $LPORT $APEX SOA | grep -q ns1" || {
  LISTENER_UP=""
  fail "vpc-0a000001's dedicated listener $LADDR:$LPORT (vpcs.dns_listen) does not answer: its checks are skipped"
}

# no_private PHASE: no source and no listener gets an answer for the private names; all REFUSED (no zone,
# no forwarders).
no_private() {
  local phase=$1 src name out
  for name in "$PRIV" a.wild.example.net b.c.wild.example.net "x.$PRIV"; do
    for src in $APP $BILL $REPT $PUB; do
      out=$(vdig "$src" 127.0.0.1 "$PORT" "$name" A)
      check_eq "$phase: $name A from $src: status" REFUSED "$(dig_status "$out")"
      check_eq "$phase: $name A from $src: answers" "" "$(dig_a_set "$out")"
    done
    [ -n "$LISTENER_UP" ] || continue
    out=$(vdig $PUB "$LADDR" "$LPORT" "$name" A)
    check_eq "$phase: $name A on vpc-0a000001's listener: status" REFUSED "$(dig_status "$out")"
  done
}
no_private "before seeding (pendingVerification)"
# generated names answer in every view regardless
for src in $APP $BILL $REPT $PUB; do
  check_eq "before seeding: regional name from $src" "$A_APP" "$(dig_a_set "$(vdig "$src" 127.0.0.1 "$PORT" "$REGIONAL" A)")"
done

# --- verified: seed, SIGHUP, poll until the private name is live --------------------------------------------
seed_state verified orders wild
kill -HUP "$PID"
priv_live() { [ "$(dig_a_set "$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)")" == "$A_APP" ]; }
wait_until 10 priv_live || fail "SIGHUP after seeding verified: $PRIV from $APP not answered within 10 s"
describe_to "$DIR/describe1.json"
check_eq "describe after seeding: $PRIV state" verified "$(state_of "$DIR/describe1.json" "$PRIV")"
check_eq "describe: private DnsEntry of app-to-orders" "$PRIV" "$(endpoint_field "$DIR/describe1.json" app-to-orders private)"
check_eq "describe: private DnsEntry of billing-to-orders" "$PRIV" "$(endpoint_field "$DIR/describe1.json" billing-to-orders private)"
check_eq "describe: no private DnsEntry for reports-to-orders (pending)" "" "$(endpoint_field "$DIR/describe1.json" reports-to-orders private)"
check_eq "describe: no private DnsEntry for legacy-to-orders (DNS off)" "" "$(endpoint_field "$DIR/describe1.json" legacy-to-orders private)"
check_eq "describe: no private DnsEntry for app-to-wild (DNS off)" "" "$(endpoint_field "$DIR/describe1.json" app-to-wild private)"
check_contains "describe: private DnsEntry of reports-to-wild" "wild.example.net" "$(endpoint_field "$DIR/describe1.json" reports-to-wild private)"

# --- the private name per source ------------------------------------------------------------------------------
for src in $APP $APP2; do
  out=$(vdig "$src" 127.0.0.1 "$PORT" "$PRIV" A)
  check_eq "$PRIV A from $src (vpc-0a000001): app-to-orders's ENIs" "$A_APP" "$(dig_a_set "$out")"
  check_eq "$PRIV A from $src: status" NOERROR "$(dig_status "$out")"
  check_match "$PRIV A from $src: AA" '(^| )aa( |$)' "$(dig_flags "$out")"
  check_eq "$PRIV A from $src: owner/TTL/class" "$PRIV. $TTL IN" \
    "$(awk '!/^;/ && $4 == "A" {print tolower($1), $2, $3}' <<<"$out" | sort -u | paste -sd'|' -)"
done
out=$(vdig $APP 127.0.0.1 "$PORT" +tcp "$PRIV" A)
check_eq "$PRIV A from $APP over TCP" "$A_APP" "$(dig_a_set "$out")"
out=$(vdig $BILL 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "$PRIV A from $BILL (vpc-0b000002): billing-to-orders's own ENIs" "$A_BILL" "$(dig_a_set "$out")"
check_match "$PRIV A from $BILL: AA" '(^| )aa( |$)' "$(dig_flags "$out")"
out=$(vdig $BILL 127.0.0.1 "$PORT" +tcp "$PRIV" A)
check_eq "$PRIV A from $BILL over TCP" "$A_BILL" "$(dig_a_set "$out")"
out=$(vdig $REPT 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "$PRIV A from $REPT (pending endpoint): status" REFUSED "$(dig_status "$out")"
check_eq "$PRIV A from $REPT: no answers (not reports-to-orders's $A_REPT)" "" "$(dig_a_set "$out")"
out=$(vdig $PUB 127.0.0.1 "$PORT" "$PRIV" A)
check_eq "$PRIV A from $PUB (public view): status" REFUSED "$(dig_status "$out")"
check_eq "$PRIV A from $PUB: no answers" "" "$(dig_a_set "$out")"
check_true "$PRIV A from $PUB: REFUSED without AA" test "$(dig_flags "$out" | grep -cw aa)" -eq 0

# --- the VPC-dedicated listener: the listener, not the source, picks the view -----------------------------
check_listener() {
  for src in $PUB $BILL $REPT; do
    out=$(vdig "$src" "$LADDR" "$LPORT" "$PRIV" A)
    check_eq "$PRIV A on vpc-0a000001's listener from $src" "$A_APP" "$(dig_a_set "$out")"
  done
  out=$(vdig $PUB "$LADDR" "$LPORT" +tcp "$PRIV" A)
  check_eq "$PRIV A on vpc-0a000001's listener over TCP" "$A_APP" "$(dig_a_set "$out")"
  check_eq "regional name on the listener" "$A_APP" "$(dig_a_set "$(vdig $PUB "$LADDR" "$LPORT" "$REGIONAL" A)")"
  out=$(vdig $PUB "$LADDR" "$LPORT" a.wild.example.net A)
  check_eq "a.wild.example.net on vpc-0a000001's listener (app-to-wild has DNS off): status" REFUSED "$(dig_status "$out")"
  out=$(vdig $PUB "$LADDR" "$LPORT" "x.$PRIV" A)
  check_eq "x.$PRIV on vpc-0a000001's listener: NXDOMAIN" NXDOMAIN "$(dig_status "$out")"
  # the listener beats ECS (step 1 before step 2)
  out=$(vdig $PUB "$LADDR" "$LPORT" +subnet=127.17.9.0/24 "$PRIV" A)
  check_eq "ECS 127.17.9.0/24 on vpc-0a000001's listener: the listener's view" "$A_APP" "$(dig_a_set "$out")"
}
[ -n "$LISTENER_UP" ] && check_listener

# --- inside the private zone: NXDOMAIN / NODATA with the private SOA ------------------------------------------
for name in "x.$PRIV" "a.b.$PRIV"; do
  out=$(vdig $APP 127.0.0.1 "$PORT" "$name" A)
  check_eq "$name A from $APP: status" NXDOMAIN "$(dig_status "$out")"
  check_match "$name A from $APP: AA" '(^| )aa( |$)' "$(dig_flags "$out")"
  check_eq "$name A from $APP: authority is the private zone's SOA" "$PRIV. SOA" "$(dig_authority "$out")"
done
soa=$(vdig $APP 127.0.0.1 "$PORT" +noall +authority "x.$PRIV" A | awk '$4 == "SOA" {print tolower($5), tolower($6)}')
check_eq "private SOA MNAME and RNAME" "ns1.$APEX. hostmaster.$PRIV." "$soa"
for qtype in AAAA TXT MX; do
  out=$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" "$qtype")
  check_eq "$PRIV $qtype from $APP: status (NODATA)" NOERROR "$(dig_status "$out")"
  check_eq "$PRIV $qtype from $APP: ANSWER count" 0 "$(dig_count ANSWER "$out")"
  check_eq "$PRIV $qtype from $APP: authority is the private zone's SOA" "$PRIV. SOA" "$(dig_authority "$out")"
done
out=$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" SOA)
check_eq "$PRIV SOA from $APP: one SOA" "$PRIV. SOA" "$(awk '!/^;/ && NF && $4 == "SOA" {print tolower($1), $4}' <<<"$out")"
# names outside the private zone (its parent, siblings) are not in any zone of the view: REFUSED
for name in orders.example.com www.orders.example.com example.com; do
  out=$(vdig $APP 127.0.0.1 "$PORT" "$name" A)
  check_eq "$name A from $APP (outside every zone, no forwarders): status" REFUSED "$(dig_status "$out")"
done

# --- generated names answer the same in every view --------------------------------------------------------
for src in $APP $BILL $REPT $PUB; do
  check_eq "regional name of app-to-orders from $src" "$A_APP" "$(dig_a_set "$(vdig "$src" 127.0.0.1 "$PORT" "$REGIONAL" A)")"
done

# --- wildcard private name: *.wild.example.net, owned by vpc-0c000003 only ---------------------------------
for name in a.wild.example.net b.c.wild.example.net A.Wild.Example.NET; do
  out=$(vdig $REPT 127.0.0.1 "$PORT" +noidnin "$name" A)
  check_eq "$name A from $REPT (owner): reports-to-wild's ENIs" "$A_WILD" "$(dig_a_set "$out")"
  check_match "$name A from $REPT: AA" '(^| )aa( |$)' "$(dig_flags "$out")"
  # RFC 4592: the answer's owner is the query name, not the wildcard
  check_eq "$name A from $REPT: answer owner" "${name,,}." \
    "$(awk '!/^;/ && $4 == "A" {print tolower($1)}' <<<"$out" | sort -u)"
  for src in $APP $BILL $PUB; do
    out=$(vdig "$src" 127.0.0.1 "$PORT" "$name" A)
    check_eq "$name A from $src (not the owner): status" REFUSED "$(dig_status "$out")"
    check_eq "$name A from $src: answers" "" "$(dig_a_set "$out")"
  done
done
check_true "app-to-wild has ENIs (DNS off, must never be answered)" test -n "$A_APPWILD"
out=$(vdig $REPT 127.0.0.1 "$PORT" wild.example.net A)
check_eq "wild.example.net A (wildcard zone apex) from $REPT: NODATA status" NOERROR "$(dig_status "$out")"
check_eq "wild.example.net A from $REPT: ANSWER count" 0 "$(dig_count ANSWER "$out")"
check_eq "wild.example.net A from $REPT: authority" "wild.example.net. SOA" "$(dig_authority "$out")"
out=$(vdig $REPT 127.0.0.1 "$PORT" a.wild.example.net AAAA)
check_eq "a.wild.example.net AAAA from $REPT: NODATA status" NOERROR "$(dig_status "$out")"
check_eq "a.wild.example.net AAAA from $REPT: ANSWER count" 0 "$(dig_count ANSWER "$out")"
check_eq "a.wild.example.net AAAA from $REPT: authority" "wild.example.net. SOA" "$(dig_authority "$out")"
out=$(vdig $REPT 127.0.0.1 "$PORT" example.net A)
check_eq "example.net A from $REPT (parent of the wildcard zone): status" REFUSED "$(dig_status "$out")"

# --- vpced zone --view: one master file per private zone, accepted by named-checkzone and kzonecheck ----------
# zone_view VPC EXPECTED-APEXES(space-separated, sorted) EXPECTED-OWNER EXPECTED-A-SET (one private zone)
zone_view() {
  local vpc=$1 want_apexes=$2 owner=$3 want_a=$4 zfile apexes f origin out rc
  zfile="$DIR/zone-$vpc.txt"
  "$VPCED" zone -c "$CONF" --view "$vpc" >"$zfile" 2>"$DIR/zone.err" || {
    fail "vpced zone --view $vpc failed: $(cat "$DIR/zone.err")"
    return
  }
  rm -f "$DIR/zone-$vpc".part.*
  awk -v base="$DIR/zone-$vpc.part." '/^\$ORIGIN / {n++} n {print > (base n)}' "$zfile"
  apexes=$(sed -n 's/^\$ORIGIN \(.*\)\.$/\1/p' "$zfile" | sort | paste -sd' ' -)
  check_eq "vpced zone --view $vpc: private zone apexes" "$want_apexes" "$apexes"
  for f in "$DIR/zone-$vpc".part.*; do
    [ -e "$f" ] || continue
    origin=$(sed -n '1s/^\$ORIGIN \(.*\)\.$/\1/p' "$f")
    out=$(named-checkzone "$origin" "$f" 2>&1)
    rc=$?
    check_eq "named-checkzone $origin (view $vpc) exit status (output: $out)" 0 "$rc"
    out=$(kzonecheck -o "$origin" "$f" 2>&1)
    rc=$?
    check_eq "kzonecheck -o $origin (view $vpc) exit status (output: $out)" 0 "$rc"
    check_eq "view $vpc zone $origin: SOA owner" "$origin." "$(awk '$4 == "SOA" {print tolower($1)}' "$f")"
  done
  check_eq "view $vpc: A records at $owner" "$want_a" \
    "$(awk -v o="$owner." 'tolower($1) == o && $4 == "A" {print $5}' "$zfile" | addr_set)"
  check_eq "view $vpc: no A records elsewhere" "" \
    "$(awk -v o="$owner." 'tolower($1) != o && $4 == "A" {print $1}' "$zfile")"
}
zone_view vpc-0a000001 "$PRIV" "$PRIV" "$A_APP"
zone_view vpc-0b000002 "$PRIV" "$PRIV" "$A_BILL"
zone_view vpc-0c000003 "wild.example.net" "*.wild.example.net" "$A_WILD"

# --- EDNS Client Subnet: trusted from 127.0.0.1/32 only ---------------------------------------------------
ecs_line() { sed -n 's/^; CLIENT-SUBNET: \(.*\)$/\1/p' <<<"$1"; }
out=$(vdig $PUB 127.0.0.1 "$PORT" +subnet=127.16.5.0/24 "$PRIV" A)
check_eq "ECS 127.16.5.0/24 from trusted $PUB: vpc-0a000001's answer" "$A_APP" "$(dig_a_set "$out")"
check_eq "ECS 127.16.5.0/24 from trusted $PUB: echoed with scope 16" "127.16.5.0/24/16" "$(ecs_line "$out")"
out=$(vdig $PUB 127.0.0.1 "$PORT" +subnet=127.17.9.0/24 "$PRIV" A)
check_eq "ECS 127.17.9.0/24 from trusted $PUB: vpc-0b000002's answer" "$A_BILL" "$(dig_a_set "$out")"
check_eq "ECS 127.17.9.0/24 from trusted $PUB: echoed with scope 16" "127.17.9.0/24/16" "$(ecs_line "$out")"
out=$(vdig $PUB 127.0.0.1 "$PORT" +subnet=127.18.1.0/24 a.wild.example.net A)
check_eq "ECS 127.18.1.0/24 from trusted $PUB: wildcard owner's answer" "$A_WILD" "$(dig_a_set "$out")"
out=$(vdig $PUB 127.0.0.1 "$PORT" +subnet=192.0.2.0/24 "$PRIV" A)
check_eq "ECS 192.0.2.0/24 (no VPC) from trusted $PUB: status" REFUSED "$(dig_status "$out")"
out=$(vdig $PUB 127.0.0.1 "$PORT" +subnet=192.0.2.0/24 "$REGIONAL" A)
check_eq "ECS 192.0.2.0/24 from trusted $PUB: public answer" "$A_APP" "$(dig_a_set "$out")"
check_eq "ECS 192.0.2.0/24 from trusted $PUB: scope = longest dns_clients prefix (16)" "192.0.2.0/24/16" "$(ecs_line "$out")"
out=$(vdig $PUB 127.0.0.1 "$PORT" +tcp +subnet=127.16.5.0/24 "$PRIV" A)
check_eq "ECS over TCP from trusted $PUB" "$A_APP" "$(dig_a_set "$out")"
# untrusted sources: ECS ignored (view by source) and not echoed
out=$(vdig $UNTRUSTED 127.0.0.1 "$PORT" +subnet=127.16.5.0/24 "$PRIV" A)
check_eq "ECS 127.16.5.0/24 from untrusted $UNTRUSTED: status (public view)" REFUSED "$(dig_status "$out")"
check_eq "ECS from untrusted $UNTRUSTED: no answers" "" "$(dig_a_set "$out")"
check_eq "ECS from untrusted $UNTRUSTED: not echoed" "" "$(ecs_line "$out")"
out=$(vdig $BILL 127.0.0.1 "$PORT" +subnet=127.16.5.0/24 "$PRIV" A)
check_eq "ECS 127.16.5.0/24 from untrusted $BILL: its own view (billing)" "$A_BILL" "$(dig_a_set "$out")"
check_eq "ECS from untrusted $BILL: not echoed" "" "$(ecs_line "$out")"
out=$(vdig $REPT 127.0.0.1 "$PORT" +subnet=127.16.5.0/24 "$PRIV" A)
check_eq "ECS 127.16.5.0/24 from untrusted $REPT: status (its own view, pending endpoint)" REFUSED "$(dig_status "$out")"

# --- not verified any more: failed, explicit pendingVerification, stale token, record missing ----------------
seed_state failed orders wild
reload_api "failed"
describe_to "$DIR/describe-failed.json"
check_eq "describe with failed record: $PRIV state" failed "$(state_of "$DIR/describe-failed.json" "$PRIV")"
check_eq "describe with failed record: no private DnsEntry for app-to-orders" "" \
  "$(endpoint_field "$DIR/describe-failed.json" app-to-orders private)"
no_private "failed"
z=$("$VPCED" zone -c "$CONF" --view vpc-0a000001 2>&1)
check_eq "vpced zone --view vpc-0a000001 with failed record: no \$ORIGIN" 0 "$(grep -c '^\$ORIGIN' <<<"$z")"

seed_state pendingVerification orders wild
reload_api "pendingVerification"
no_private "explicit pendingVerification"

seed_state stale-verified orders wild
reload_api "stale token"
no_private "verified record with a stale token"

# only wild verified: orders's record is missing from the file
seed_state verified wild
reload_api "orders missing"
for src in $APP $BILL $PUB; do
  out=$(vdig "$src" 127.0.0.1 "$PORT" "$PRIV" A)
  check_eq "orders record missing: $PRIV A from $src: status" REFUSED "$(dig_status "$out")"
done
check_eq "orders record missing: a.wild.example.net A from $REPT still answered" "$A_WILD" \
  "$(dig_a_set "$(vdig $REPT 127.0.0.1 "$PORT" a.wild.example.net A)")"

# and back: verified again answers again (the reloads above did take effect)
seed_state verified orders wild
reload_api "verified again"
check_eq "verified again: $PRIV A from $APP" "$A_APP" "$(dig_a_set "$(vdig $APP 127.0.0.1 "$PORT" "$PRIV" A)")"
check_eq "verified again: $PRIV A from $BILL" "$A_BILL" "$(dig_a_set "$(vdig $BILL 127.0.0.1 "$PORT" "$PRIV" A)")"

check_true "vpced still running after all queries" kill -0 "$PID"

# vpcectl explain says which view answers and why, for the private name from its VPC, another VPC, and
# the public view.
VPCECTL="$(dirname "$VPCED")/vpcectl"
if [ -x "$VPCECTL" ]; then
  out=$("$VPCECTL" --admin "$ADMIN" explain "$PRIV" --from "$APP" 2>&1)
  check_contains "explain from the owning VPC: view" "view: vpc-0a000001" "$out"
  check_contains "explain from the owning VPC: served here" "served in this view" "$out"
  check_contains "explain from the owning VPC: answered" "result: hit (NOERROR)" "$out"
  out=$("$VPCECTL" --admin "$ADMIN" explain "$PRIV" --from "$REPT" 2>&1)
  check_contains "explain from the VPC of a pending endpoint: not served" "not served, the endpoint is not available" "$out"
  out=$("$VPCECTL" --admin "$ADMIN" explain "$PRIV" --from "$PUB" 2>&1)
  check_contains "explain from the public view: view" "view: public" "$out"
  check_contains "explain from the public view: only in the VPC's view" "served only in that VPC's view, not in view public" "$out"
  check_contains "explain from the public view: refused" "result: refused" "$out"
else
  fail "vpcectl not found next to vpced ($VPCECTL)"
fi
