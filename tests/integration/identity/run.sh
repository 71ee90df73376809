#!/usr/bin/env bash
# Generated identity (design §4, §6): IDs, DNS suffixes and ENI addresses are made once, persisted in
# state_dir/identity.json and never move, across runs, `vpced run`, and config edits of other objects; a corrupt
# state file stops every command with a clear error and is left byte-for-byte untouched.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

STATE="$DIR/state/identity.json"
soa_serial() { awk '$4 == "SOA" {print $7}' "$1"; }

setup_config
check_true "no state before the first run" test ! -e "$STATE"

# --- generated once, then stable -------------------------------------------------------------------------------
describe_to "$DIR/d1.json"
check_true "state file $STATE exists after describe" test -s "$STATE"
cp "$STATE" "$DIR/state1.json"
check_true "state file is JSON" "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$STATE"
py_checks "$HERE/compare.py" shape "$DIR/d1.json" "$CONF"

describe_to "$DIR/d2.json"
check_eq "second describe output equals the first" "" "$(diff "$DIR/d1.json" "$DIR/d2.json")"
check_eq "state file unchanged by a second describe" "" "$(cmp "$DIR/state1.json" "$STATE" 2>&1)"

"$VPCED" zone -c "$CONF" >"$DIR/z1.txt" 2>"$DIR/zone.err" || die "vpced zone failed: $(cat "$DIR/zone.err")"
"$VPCED" zone -c "$CONF" >"$DIR/z2.txt" 2>"$DIR/zone.err" || die "vpced zone failed: $(cat "$DIR/zone.err")"
serial1=$(soa_serial "$DIR/z1.txt")
check_match "zone serial is a number" '^[0-9]+$' "$serial1"
check_eq "zone serial unchanged while the zone content is unchanged" "$serial1" "$(soa_serial "$DIR/z2.txt")"
check_eq "zone names use the described ids" "" "$("$PY" -c '
import json, sys
zone = open(sys.argv[2]).read()
for e in json.load(open(sys.argv[1]))["VpcEndpoints"]:
    if e["State"] == "available" and e["DnsEntries"][0]["DnsName"] + "." not in zone:
        print(e["DnsEntries"][0]["DnsName"])' "$DIR/d1.json" "$DIR/z1.txt")"

# `vpced run` loads the same identity: it answers with the described addresses and changes nothing.
start_vpced
regional=$("$PY" -c '
import json, sys
e = [e for e in json.load(open(sys.argv[1]))["VpcEndpoints"] if e["State"] == "available"][0]
print(e["DnsEntries"][0]["DnsName"], ",".join(sorted(n["PrivateIpAddress"] for n in e["NetworkInterfaces"])))' "$DIR/d1.json")
read -r name want <<<"$regional"
got=$(dig +short +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$name" A | sort | paste -sd, -)
check_eq "vpced run answers $name with the described addresses" "$want" "$got"
check_eq "vpced run serves the serial of \`vpced zone\`" "$serial1" \
  "$(dig +short +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$APEX" SOA | awk '{print $3}')"
stop_vpced
describe_to "$DIR/d3.json"
check_eq "describe after vpced run equals the first" "" "$(diff "$DIR/d1.json" "$DIR/d3.json")"

# --- edit the config: remove one endpoint, add another; nothing else moves -------------------------------------
edit=$("$PY" "$HERE/edit.py" "$CONF") || die "edit.py could not edit $CONF"
read -r removed added <<<"$edit"
describe_to "$DIR/d4.json"
py_checks "$HERE/compare.py" stable "$DIR/d1.json" "$DIR/d4.json" "$removed" "$added"
py_checks "$HERE/compare.py" shape "$DIR/d4.json" "$CONF"
describe_to "$DIR/d5.json"
check_eq "describe after the edit is stable too" "" "$(diff "$DIR/d4.json" "$DIR/d5.json")"
"$VPCED" zone -c "$CONF" >"$DIR/z3.txt" 2>"$DIR/zone.err" || die "vpced zone failed: $(cat "$DIR/zone.err")"
serial3=$(soa_serial "$DIR/z3.txt")
check_true "zone serial grows when the zone changes ($serial1 -> $serial3)" test "${serial3:-0}" -gt "$serial1"

# --- edit one endpoint: drop one of its subnets; its id, suffix and other addresses stay -------------------------
edited=$("$PY" "$HERE/drop_subnet.py" "$CONF" "$DIR/d4.json") || die "cannot drop a subnet from an endpoint in $CONF"
read -r edited_name edited_subnet <<<"$edited"
describe_to "$DIR/d5b.json"
py_checks "$HERE/compare.py" subnet-removed "$DIR/d4.json" "$DIR/d5b.json" "$edited_name" "$edited_subnet"

# --- a pin on an address another endpoint holds: an error naming both; nothing moves ----------------------------
cp "$CONF" "$DIR/before-pin.toml"
pin=$("$PY" "$HERE/held_address.py" "$DIR/d5b.json" "$CONF" pins-a-held-address) || die "held_address.py failed"
read -r held_name held_addr <<<"$(head -n 1 <<<"$pin")"
tail -n +2 <<<"$pin" >>"$CONF"
before=$(sha256sum <"$STATE")
"$VPCED" describe -c "$CONF" --json >"$DIR/pin.out" 2>"$DIR/pin.err"
rc=$?
check_eq "describe with a pin on an address $held_name holds: exit status" 1 "$rc"
err=$(cat "$DIR/pin.err")
check_contains "pin conflict error names the holder" "'$held_name'" "$err"
check_contains "pin conflict error names the pinning endpoint" "'pins-a-held-address'" "$err"
check_contains "pin conflict error names the address" "$held_addr" "$err"
check_match "pin conflict error is positioned (FILE:LINE:COL: error:)" "^$(re_escape "$CONF"):[0-9]+:[0-9]+: error: " "$err"
check_eq "state file untouched by the failed describe" "$before" "$(sha256sum <"$STATE")"
cp "$DIR/before-pin.toml" "$CONF"
describe_to "$DIR/d5c.json"
check_eq "describe after removing the conflicting pin equals the one before" "" "$(diff "$DIR/d5b.json" "$DIR/d5c.json")"

# --- a corrupt state file: every command refuses, the file is left as it was ------------------------------------
cp "$STATE" "$DIR/good-state.json"
corrupt_truncated() { head -c "$(($(wc -c <"$DIR/good-state.json") / 2))" "$DIR/good-state.json" >"$STATE"; }
corrupt_bad_id() { sed '0,/"id": "vpce-[0-9a-f]*"/s//"id": "vpce-not-hex"/' "$DIR/good-state.json" >"$STATE"; }
corrupt_binary() { printf '\x00\xff\xfe{garbage' >"$STATE"; }
corrupt_wrong_format() { sed 's/"format": [0-9]*/"format": 999/' "$DIR/good-state.json" >"$STATE"; }

for how in truncated bad_id binary wrong_format; do
  "corrupt_$how"
  check_true "corrupt ($how): the state file differs from the good one" test -n "$(cmp "$DIR/good-state.json" "$STATE" 2>&1)"
  before=$(sha256sum <"$STATE")
  for cmd in describe zone check; do
    args=(-c "$CONF")
    [ "$cmd" == describe ] && args+=(--json)
    "$VPCED" "$cmd" "${args[@]}" >"$DIR/corrupt.out" 2>"$DIR/corrupt.err"
    rc=$?
    check_true "corrupt ($how): vpced $cmd exits non-zero (got $rc)" test "$rc" -ne 0
    err=$(cat "$DIR/corrupt.err")
    check_contains "corrupt ($how): vpced $cmd names the state file" "identity.json" "$err"
    check_contains "corrupt ($how): vpced $cmd says it is corrupt" "corrupt" "$err"
    check_eq "corrupt ($how): vpced $cmd prints nothing on stdout" "" "$(head -c 200 "$DIR/corrupt.out")"
    check_eq "corrupt ($how): state file untouched by vpced $cmd" "$before" "$(sha256sum <"$STATE")"
  done
  # The daemon refuses to start: it must exit by itself (poll at most ~5 s).
  "$VPCED" run -c "$CONF" 2>"$DIR/corrupt-run.log" &
  PID=$!
  for _ in $(seq 1 25); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$PID" 2>/dev/null; then
    fail "corrupt ($how): vpced run is still running after ~5 s with a corrupt state file"
    stop_vpced
  else
    wait "$PID"
    rc=$?
    PID=""
    check_true "corrupt ($how): vpced run exits non-zero (got $rc)" test "$rc" -ne 0
    check_contains "corrupt ($how): vpced run logs the state file" "identity.json" "$(cat "$DIR/corrupt-run.log")"
  fi
  check_eq "corrupt ($how): state file untouched by vpced run" "$before" "$(sha256sum <"$STATE")"
done

# Restoring the file restores the identity.
cp "$DIR/good-state.json" "$STATE"
describe_to "$DIR/d6.json"
check_eq "describe after restoring the state file equals the one before corruption" "" "$(diff "$DIR/d5c.json" "$DIR/d6.json")"
