#!/usr/bin/env bash
# Public-view DNS answers of a running vpced (design §5) for every DnsEntry of `vpced describe --json`,
# checked with dig over UDP and kdig over TCP, plus apex, NODATA, REFUSED, EDNS and case handling.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

# Sorts comma- or newline-separated IPv4 addresses numerically and joins them with commas.
addr_set() { tr ', ' '\n\n' | sed '/^$/d' | sort -t. -k1,1n -k2,2n -k3,3n -k4,4n | paste -sd, -; }

setup_config
describe_to "$DIR/describe.json"
# With the orders name verified its private name is live (listed in DnsEntries) — and still refused in the
# public view, which is what this test queries from.
seed_verified orders
describe_to "$DIR/describe.json"
"$VPCED" zone -c "$CONF" >"$DIR/zone.txt" 2>"$DIR/zone.err" || die "vpced zone failed: $(cat "$DIR/zone.err")"
start_vpced

# --- the describe output must be non-trivial, or every loop below would pass vacuously ---------------------
read -r n_total n_avail n_pending n_rejected <<<"$("$PY" -c '
import json, sys
eps = json.load(open(sys.argv[1]))["VpcEndpoints"]
st = [e["State"] for e in eps]
print(len(eps), st.count("available"), st.count("pendingAcceptance"), st.count("rejected"))' "$DIR/describe.json")"
check_true "describe: at least 5 endpoints (got ${n_total:-none})" test "${n_total:-0}" -ge 5
check_true "describe: at least one available endpoint (got ${n_avail:-none})" test "${n_avail:-0}" -ge 1
check_true "describe: at least one pendingAcceptance endpoint (got ${n_pending:-none})" test "${n_pending:-0}" -ge 1
check_true "describe: at least one rejected endpoint (got ${n_rejected:-none})" test "${n_rejected:-0}" -ge 1

plan=$("$PY" "$HERE/plan.py" "$DIR/describe.json" "$APEX") || die "plan.py failed on describe output"
while IFS= read -r line; do
  [[ "$line" == FAIL:* ]] && fail "describe output: ${line#FAIL: }"
done <<<"$plan"
plan=$(grep -v '^FAIL:' <<<"$plan")

n_available_names=0
n_hidden_names=0
n_private_names=0
first_regional=""
first_regional_expected=""
first_zonal=""
while IFS=$'\t' read -r -u 3 state kind name expected; do
  [ -n "$name" ] || continue
  if [ "$kind" == "private" ]; then
    # Private DNS names live only in VPC views (and only once verified): the public view refuses them.
    n_private_names=$((n_private_names + 1))
    out=$(qdig "$name" A)
    check_eq "UDP $name A ($state endpoint's private DNS name) status" REFUSED "$(dig_status "$out")"
    check_true "UDP $name A: REFUSED must not carry AA (flags: $(dig_flags "$out"))" \
      test "$(dig_flags "$out" | grep -cw aa)" -eq 0
    out=$(qkdig +tcp "$name" A)
    check_eq "TCP $name A status" REFUSED "$(dig_status "$out")"
    continue
  fi
  if [ "$state" == "available" ]; then
    n_available_names=$((n_available_names + 1))
    if [ "$kind" == "regional" ] && [ -z "$first_regional" ]; then
      first_regional=$name
      first_regional_expected=$expected
    fi
    [ "$kind" == "zonal" ] && [ -z "$first_zonal" ] && first_zonal=$name
    want=$(addr_set <<<"$expected")

    got=$(qdig +short "$name" A | addr_set)
    check_eq "UDP dig +short $name A ($kind)" "$want" "$got"
    got=$(qkdig +tcp +short "$name" A | addr_set)
    check_eq "TCP kdig +short $name A ($kind)" "$want" "$got"

    out=$(qdig "$name" A)
    check_eq "UDP $name A status" NOERROR "$(dig_status "$out")"
    check_match "UDP $name A: AA flag" '(^| )aa( |$)' "$(dig_flags "$out")"
    check_eq "UDP $name A: ANSWER count" "$(tr ',' '\n' <<<"$want" | wc -l)" "$(dig_count ANSWER "$out")"

    udp_answer=$(qdig +noall +answer "$name" A)
    tcp_answer=$(qdig +tcp +noall +answer "$name" A)
    check_eq "$name A: TCP answer section equals UDP answer section" "$udp_answer" "$tcp_answer"
    while read -r owner ttl class type _; do
      check_eq "$name A: answer owner" "${name,,}." "${owner,,}"
      check_eq "$name A: answer TTL" "$TTL" "$ttl"
      check_eq "$name A: answer class/type" "IN A" "$class $type"
    done <<<"$udp_answer"
  else
    # pendingAcceptance / rejected: the names do not exist (design §5 serves available endpoints only).
    n_hidden_names=$((n_hidden_names + 1))
    out=$(qdig "$name" A)
    check_eq "UDP $name A ($state endpoint, $kind) status" NXDOMAIN "$(dig_status "$out")"
    check_match "UDP $name A: AA flag" '(^| )aa( |$)' "$(dig_flags "$out")"
    check_eq "UDP $name A: ANSWER count" 0 "$(dig_count ANSWER "$out")"
    auth=$(qdig +noall +authority "$name" A | awk '{print tolower($1), $4}')
    check_eq "UDP $name A: authority section" "$APEX. SOA" "$auth"
    out=$(qkdig +tcp "$name" A)
    check_eq "TCP $name A ($state endpoint) status" NXDOMAIN "$(dig_status "$out")"
  fi
done 3<<<"$plan"

check_true "queried at least 2 names of available endpoints (got $n_available_names)" test "$n_available_names" -ge 2
check_true "queried at least 2 names of pending/rejected endpoints (got $n_hidden_names)" test "$n_hidden_names" -ge 2
check_true "queried at least 1 private DNS name (got $n_private_names)" test "$n_private_names" -ge 1
[ -n "$first_regional" ] || die "no regional name of an available endpoint in describe output"

# --- NODATA: existing name, other type ---------------------------------------------------------------------
for name in "$first_regional" "$first_zonal" "$APEX"; do
  for qtype in AAAA TXT; do
    out=$(qdig "$name" "$qtype")
    check_eq "UDP $name $qtype status" NOERROR "$(dig_status "$out")"
    check_eq "UDP $name $qtype: ANSWER count (NODATA)" 0 "$(dig_count ANSWER "$out")"
    check_match "UDP $name $qtype: AA flag" '(^| )aa( |$)' "$(dig_flags "$out")"
    auth=$(qdig +noall +authority "$name" "$qtype" | awk '{print tolower($1), $4}')
    check_eq "UDP $name $qtype: authority section" "$APEX. SOA" "$auth"
  done
done

# --- ANY: the A set (RFC 8482 spirit) -----------------------------------------------------------------------
got=$(qdig +short "$first_regional" ANY | addr_set)
check_eq "UDP $first_regional ANY" "$(addr_set <<<"$first_regional_expected")" "$got"
check_eq "UDP $APEX ANY: one RRset, the SOA" "SOA" "$(qdig +noall +answer "$APEX" ANY | awk '{print $4}' | paste -sd' ' -)"

# --- apex -------------------------------------------------------------------------------------------------
zone_soa=$(awk -v apex="$APEX." '$4 == "SOA" && tolower($1) == apex {for (i = 5; i <= NF; i++) printf "%s%s", $i, (i < NF ? " " : "")}' "$DIR/zone.txt")
out=$(qdig "$APEX" SOA)
check_eq "UDP $APEX SOA status" NOERROR "$(dig_status "$out")"
check_match "UDP $APEX SOA: AA flag" '(^| )aa( |$)' "$(dig_flags "$out")"
check_eq "UDP $APEX SOA: ANSWER count" 1 "$(dig_count ANSWER "$out")"
soa=$(qdig +noall +answer "$APEX" SOA)
check_eq "UDP $APEX SOA: owner ttl class type" "$APEX. $TTL IN SOA" "$(awk '{print tolower($1), $2, $3, $4}' <<<"$soa")"
check_eq "UDP $APEX SOA: rdata equals \`vpced zone\`" "$zone_soa" "$(qdig +short "$APEX" SOA)"
check_match "UDP $APEX SOA: MNAME" "^ns1\\.$APEX\\. " "$(qdig +short "$APEX" SOA)"
check_eq "TCP $APEX SOA equals UDP" "$soa" "$(qdig +tcp +noall +answer "$APEX" SOA)"

out=$(qdig "$APEX" NS)
check_eq "UDP $APEX NS status" NOERROR "$(dig_status "$out")"
check_match "UDP $APEX NS: AA flag" '(^| )aa( |$)' "$(dig_flags "$out")"
check_eq "UDP $APEX NS: target" "ns1.$APEX." "$(qdig +short "$APEX" NS)"
check_eq "UDP $APEX NS: glue in additional" "ns1.$APEX. $TTL IN A 127.0.0.1" \
  "$(qdig +noall +additional +noedns "$APEX" NS | awk '{print tolower($1), $2, $3, $4, $5}')"
check_eq "UDP ns1.$APEX A" "127.0.0.1" "$(qdig +short "ns1.$APEX" A)"

# --- names in the zone that do not exist, and the empty non-terminal base name (RFC 8020) ------------------
base=${first_regional#*.}
for name in "no-such-name.$APEX" "vpce-00000000000000000-aaaaaaaa.$base" "a.b.$first_regional"; do
  out=$(qdig "$name" A)
  check_eq "UDP $name A status" NXDOMAIN "$(dig_status "$out")"
  check_match "UDP $name A: AA flag" '(^| )aa( |$)' "$(dig_flags "$out")"
  check_eq "UDP $name A: authority section" "$APEX. SOA" "$(qdig +noall +authority "$name" A | awk '{print tolower($1), $4}')"
done
out=$(qdig "$base" A)
check_eq "UDP $base A (empty non-terminal) status" NOERROR "$(dig_status "$out")"
check_eq "UDP $base A (empty non-terminal): ANSWER count" 0 "$(dig_count ANSWER "$out")"

# --- outside every zone, no forwarders: REFUSED -------------------------------------------------------------
for name in example.org "${APEX#*.}" com; do
  out=$(qdig "$name" A)
  check_eq "UDP $name A (outside the zone) status" REFUSED "$(dig_status "$out")"
  out=$(qkdig +tcp "$name" A)
  check_eq "TCP $name A (outside the zone) status" REFUSED "$(dig_status "$out")"
done

# --- EDNS (RFC 6891) ----------------------------------------------------------------------------------------
out=$(qdig +edns=0 +bufsize=4096 +nocookie "$APEX" SOA)
check_match "EDNS0 query: OPT in reply with payload 1232" 'EDNS: version: 0, flags:[a-z ]*; udp: 1232' "$out"
out=$(qdig +noedns "$APEX" SOA)
check_true "query without EDNS: no OPT in reply" test "$(grep -c 'EDNS:' <<<"$out")" -eq 0
check_eq "query without EDNS: status" NOERROR "$(dig_status "$out")"
out=$(qdig +edns=1 +noednsneg +nocookie "$APEX" SOA)
check_eq "EDNS version 1: status" BADVERS "$(dig_status "$out")"
check_match "EDNS version 1: reply OPT is version 0" 'EDNS: version: 0,' "$out"
check_eq "EDNS version 1: ANSWER count" 0 "$(dig_count ANSWER "$out")"
out=$(qdig +dnssec +nocookie "$APEX" SOA)
check_match "DO bit echoed in the reply OPT (RFC 3225 §3)" 'EDNS: version: 0, flags: do; udp: 1232' "$out"
out=$(dig +rec +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$APEX" SOA 2>&1)
check_eq "RD copied, RA not set (authoritative only)" "qr aa rd" "$(dig_flags "$out")"
out=$(qkdig +tcp +edns=1 "$APEX" SOA)
check_eq "EDNS version 1 over TCP (kdig): status" BADVERS "$(dig_status "$out")"

# --- case: matched case-insensitively, question echoed as sent ----------------------------------------------
mixed=$("$PY" -c 'import sys; s = sys.argv[1]; print("".join(c.upper() if i % 2 == 0 else c for i, c in enumerate(s)))' "$first_regional")
check_true "mixed-case name differs from the original" test "$mixed" != "$first_regional"
question=$(qdig +noidnin +noidnout +noall +question "$mixed" A | sed 's/^;//' | awk '{print $1}')
check_eq "UDP $mixed A: question echoed as sent" "$mixed." "$question"
question=$(qdig +tcp +noidnin +noidnout +noall +question "$mixed" A | sed 's/^;//' | awk '{print $1}')
check_eq "TCP $mixed A: question echoed as sent" "$mixed." "$question"
got=$(qdig +noidnin +short "$mixed" A | addr_set)
check_eq "UDP $mixed A: answers" "$(addr_set <<<"$first_regional_expected")" "$got"
out=$(qdig +noidnin "$mixed" A)
check_eq "UDP $mixed A: status" NOERROR "$(dig_status "$out")"
mixed_apex=$("$PY" -c 'import sys; print(sys.argv[1].upper())' "$APEX")
check_eq "UDP $mixed_apex SOA: question echoed as sent" "$mixed_apex." \
  "$(qdig +noidnin +noidnout +noall +question "$mixed_apex" SOA | sed 's/^;//' | awk '{print $1}')"

# --- the server is still alive ------------------------------------------------------------------------------
check_true "vpced still running after all queries" kill -0 "$PID"
