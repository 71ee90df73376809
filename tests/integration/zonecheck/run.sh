#!/usr/bin/env bash
# `vpced zone` renders the public zone as an RFC 1035 master file that BIND's named-checkzone and Knot's
# kzonecheck accept, holding exactly the A records `vpced describe` implies (design §5, §8).
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config
ZONE="$DIR/zone.txt"
"$VPCED" zone -c "$CONF" >"$ZONE" 2>"$DIR/zone.err" || die "vpced zone -c $CONF failed: $(cat "$DIR/zone.err")"
describe_to "$DIR/describe.json"

# --- the third-party checkers --------------------------------------------------------------------------------
out=$(named-checkzone "$APEX" "$ZONE" 2>&1)
rc=$?
check_eq "named-checkzone $APEX exit status (output: $out)" 0 "$rc"
check_match "named-checkzone says OK" '(^|
)OK$' "$out"
out=$(kzonecheck -o "$APEX" "$ZONE" 2>&1)
rc=$?
check_eq "kzonecheck -o $APEX exit status (output: $out)" 0 "$rc"
# named-checkzone in its strictest mode too: names must be host names, MX/SRV/NS targets checked.
out=$(named-checkzone -i full -k fail -n fail -m fail -M fail -S fail "$APEX" "$ZONE" 2>&1)
rc=$?
check_eq "named-checkzone (strict: -i full -k/-n/-m/-M/-S fail) exit status (output: $out)" 0 "$rc"

# --- shape of the file ---------------------------------------------------------------------------------------
check_eq "first line is \$ORIGIN" "\$ORIGIN $APEX." "$(head -n 1 "$ZONE")"
# Every record line: absolute owner, TTL, IN, type, rdata.
bad=$(awk 'NR > 1 && !/^;/ && NF > 0 && !($1 ~ /\.$/ && $2 ~ /^[0-9]+$/ && $3 == "IN") {print NR": "$0}' "$ZONE")
check_eq "every record line is 'absolute-owner ttl IN type rdata'" "" "$bad"
check_eq "record TTLs (server.ttl)" "$TTL" "$(awk 'NR > 1 && NF > 0 && !/^;/ {print $2}' "$ZONE" | sort -u | paste -sd, -)"
check_eq "number of SOA records" 1 "$(awk '$4 == "SOA"' "$ZONE" | wc -l)"
check_eq "SOA owner" "$APEX." "$(awk '$4 == "SOA" {print tolower($1)}' "$ZONE")"
check_eq "SOA is the first record" SOA "$(awk 'NR == 2 {print $4}' "$ZONE")"
check_eq "NS records" "$APEX. ns1.$APEX." "$(awk '$4 == "NS" {print tolower($1), tolower($5)}' "$ZONE" | paste -sd' ' -)"
check_eq "ns1 glue" "127.0.0.1" "$(awk -v ns="ns1.$APEX." 'tolower($1) == ns && $4 == "A" {print $5}' "$ZONE" | paste -sd, -)"
check_eq "record types" "A NS SOA" "$(awk 'NR > 1 && NF > 0 && !/^;/ {print $4}' "$ZONE" | sort -u | paste -sd' ' -)"

# --- the A records are exactly those describe implies ---------------------------------------------------------
# Every available endpoint: regional name → every ENI address; each zonal name → its AZ's ENI address.
"$PY" - "$DIR/describe.json" "$APEX" >"$DIR/expected-a.txt" <<'EOF' || die "cannot compute the expected A records"
import json, sys
d = json.load(open(sys.argv[1]))
apex = sys.argv[2]
out = [f"ns1.{apex}. 127.0.0.1"]
for e in d["VpcEndpoints"]:
    if e["State"] != "available":
        continue
    enis = e["NetworkInterfaces"]
    names = [x["DnsName"] for x in e["DnsEntries"]]
    for n in enis:
        out.append(f"{names[0]}. {n['PrivateIpAddress']}")
    for z in names[1:1 + len(enis)]:
        az = [n for n in enis if z.split(".")[0].endswith("-" + n["AvailabilityZone"])]
        out.append(f"{z}. {az[0]['PrivateIpAddress'] if az else 'NO-ENI-FOR-' + z}")
print("\n".join(sorted(out)))
EOF
awk '$4 == "A" {print tolower($1), $5}' "$ZONE" | sort >"$DIR/actual-a.txt"
n_expected=$(wc -l <"$DIR/expected-a.txt")
n_actual=$(wc -l <"$DIR/actual-a.txt")
check_true "expected A records include endpoint names (got $n_expected, want > 1)" test "$n_expected" -gt 1
check_eq "number of A records (regional + zonal addresses of available endpoints + ns1 glue)" "$n_expected" "$n_actual"
diff_out=$(diff "$DIR/expected-a.txt" "$DIR/actual-a.txt")
check_eq "A records (expected < > vpced zone)" "" "$diff_out"

# Names of endpoints that are not available must not appear at all.
hidden=$("$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1]))["VpcEndpoints"]:
    if e["State"] != "available":
        print(e["VpcEndpointId"])' "$DIR/describe.json")
check_true "describe has endpoints that are not available" test -n "$hidden"
for id in $hidden; do
  check_eq "records of $id (not available) in the zone" 0 "$(grep -c -- "$id" "$ZONE")"
done

# --- the output is stable: a second run prints the same zone (same serial, persisted identity) -------------------
"$VPCED" zone -c "$CONF" >"$DIR/zone2.txt" 2>"$DIR/zone.err" || die "second vpced zone failed: $(cat "$DIR/zone.err")"
check_eq "second \`vpced zone\` output equals the first" "" "$(diff "$ZONE" "$DIR/zone2.txt")"
