#!/usr/bin/env bash
# A real resolver in front of vpced (docs/dns.md "Views", step 1): unbound's queries all come from 127.0.0.1,
# so its view is fixed by where it sends them.
#   unbound A: stub-zones for <region>.vpce.amazonaws.com and api.orders.example.com pointing at
#              vpc-0a000001's dedicated dns_listen address → clients of A get vpc-0a000001's private answer.
#   unbound B: forward-zones to vpced's main listener with outgoing-interface 127.17.0.53 → its queries come
#              from vpc-0b000002's dns_clients → clients of B get billing's own private answer.
# Both also resolve the public vpce-… names, NXDOMAIN and NODATA come through, and nothing leaks between them.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"
. "$HERE/../views/common.sh"

PRIV=api.orders.example.com
LADDR=127.0.0.78        # vpc-0a000001's dedicated listener
UA_ADDR=127.0.0.81      # unbound A (stub-zone → the dedicated listener)
UB_ADDR=127.0.0.82      # unbound B (forward-zone → main listener, from a billing source address)
UB_SOURCE=127.17.0.53
UA_PID=""
UB_PID=""

command -v unbound >/dev/null || die "unbound is not installed (scripts/install-deps.sh)"

on_exit() {
  local rc=$? u
  stop_by_pid "unbound A" "$UA_PID"
  UA_PID=""
  stop_by_pid "unbound B" "$UB_PID"
  UB_PID=""
  if [ "$FAILS" -gt 0 ]; then
    for u in a b; do
      if [ -s "$DIR/unbound-$u/unbound.log" ]; then
        echo "---- unbound $u log ----" >&2
        tail -n 30 "$DIR/unbound-$u/unbound.log" >&2
      fi
    done
  fi
  (exit $rc)
  finish
}
trap on_exit EXIT

# --- vpced: orders verified, vpc-0a000001 with a dedicated listener ------------------------------------------
setup_config
LPORT=$(free_port_on "$LADDR") || die "no free port on $LADDR"
"$PY" "$HERE/../views/edit_config.py" "$CONF" --vpc-listen vpc-0a000001 "$LADDR:$LPORT" || die "cannot edit $CONF"
out=$("$VPCED" check -c "$CONF" 2>&1) || die "vpced check rejects the test config: $out"
describe_to "$DIR/describe.json"
seed_state verified orders
describe_to "$DIR/describe.json"
A_APP=$(eni_addrs "$DIR/describe.json" app-to-orders)
A_BILL=$(eni_addrs "$DIR/describe.json" billing-to-orders)
A_INV=$(eni_addrs "$DIR/describe.json" app-to-inventory)
REGIONAL=$(endpoint_field "$DIR/describe.json" app-to-orders regional)
REGIONAL_INV=$(endpoint_field "$DIR/describe.json" app-to-inventory regional)
ZONAL=$("$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1]))["VpcEndpoints"]:
    if e["Tags"][0]["Value"] == "app-to-orders":
        z = e["DnsEntries"][1]["DnsName"]
        az = z.split(".")[0].rsplit("-", 3)[1:]
        az = "-".join(az)
        ip = next(n["PrivateIpAddress"] for n in e["NetworkInterfaces"] if n["AvailabilityZone"] == az)
        print(z, ip)' "$DIR/describe.json")
read -r ZONAL ZONAL_A <<<"$ZONAL"
check_match "app-to-orders ENIs" '^127\.16\.' "$A_APP"
check_match "a zonal name of app-to-orders" '^vpce-.*-us-east-1[a-z]\.' "$ZONAL"
check_match "its ENI address" '^127\.16\.' "$ZONAL_A"
start_vpced
LISTENER_UP=yes
wait_until 5 bash -c "dig +short +time=1 +tries=1 @$LADDR -p $LPORT $APEX SOA | grep -q ns1" || {
  LISTENER_UP=""
  fail "vpced's dedicated listener $LADDR:$LPORT (vpc-0a000001 dns_listen) does not answer: unbound A not started, its checks skipped"
}

# --- two unbound instances ---------------------------------------------------------------------------------------
# write_unbound DIR ADDR PORT EXTRA-SERVER-LINES ZONES-TEXT
write_unbound() {
  mkdir -p "$1"
  cat >"$1/unbound.conf" <<EOF
server:
    interface: $2@$3
    port: $3
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$1"
    pidfile: "$1/unbound.pid"
    use-syslog: no
    logfile: "$1/unbound.log"
    verbosity: 1
    module-config: "iterator"
    do-not-query-localhost: no
    local-zone: "example.com." nodefault
$4
remote-control:
    control-enable: no
$5
EOF
  out=$(unbound-checkconf "$1/unbound.conf" 2>&1) || die "unbound-checkconf $1/unbound.conf: $out"
}

UA_PORT=$(free_port_on $UA_ADDR) || die "no free port on $UA_ADDR"
UB_PORT=$(free_port_on $UB_ADDR) || die "no free port on $UB_ADDR"
write_unbound "$DIR/unbound-a" $UA_ADDR "$UA_PORT" "" "stub-zone:
    name: \"$APEX\"
    stub-addr: $LADDR@$LPORT
stub-zone:
    name: \"$PRIV\"
    stub-addr: $LADDR@$LPORT"
write_unbound "$DIR/unbound-b" $UB_ADDR "$UB_PORT" "    outgoing-interface: $UB_SOURCE" "forward-zone:
    name: \"$APEX\"
    forward-addr: 127.0.0.1@$PORT
forward-zone:
    name: \"$PRIV\"
    forward-addr: 127.0.0.1@$PORT"

# start_unbound DIR ADDR PORT: starts it in the foreground, sets STARTED_PID, waits until it answers
start_unbound() {
  unbound -d -c "$1/unbound.conf" >"$1/unbound.out" 2>&1 &
  STARTED_PID=$!
  local i
  for i in $(seq 1 50); do
    kill -0 "$STARTED_PID" 2>/dev/null ||
      die "unbound ($1) exited during start-up: $(cat "$1/unbound.out" "$1/unbound.log" 2>/dev/null | tail -n 20)"
    if dig +time=1 +tries=1 @"$2" -p "$3" "$APEX" SOA 2>/dev/null | grep -q 'status: NOERROR'; then
      return 0
    fi
    sleep 0.2
  done
  fail "unbound ($1) did not resolve $APEX SOA on $2:$3 within ~10 s"
}
if [ -n "$LISTENER_UP" ]; then
  start_unbound "$DIR/unbound-a" $UA_ADDR "$UA_PORT"
  UA_PID=$STARTED_PID
fi
start_unbound "$DIR/unbound-b" $UB_ADDR "$UB_PORT"
UB_PID=$STARTED_PID

# rdig ADDR PORT ARGS: a stub client asking the resolver (recursion desired)
rdig() { dig +time=5 +tries=1 +rec @"$1" -p "$2" "${@:3}" 2>&1; }

# --- through unbound A: vpc-0a000001's view ---------------------------------------------------------------------
check_unbound_a() {
  for round in first cached; do
    out=$(rdig $UA_ADDR "$UA_PORT" "$PRIV" A)
    check_eq "unbound A ($round): $PRIV A → app-to-orders's ENIs" "$A_APP" "$(dig_a_set "$out")"
    check_eq "unbound A ($round): $PRIV A status" NOERROR "$(dig_status "$out")"
    check_match "unbound A ($round): RA set by the resolver" '(^| )ra( |$)' "$(dig_flags "$out")"
  done
  out=$(rdig $UA_ADDR "$UA_PORT" +tcp "$PRIV" A)
  check_eq "unbound A over TCP: $PRIV A" "$A_APP" "$(dig_a_set "$out")"
  check_eq "unbound A: regional name of app-to-orders" "$A_APP" "$(dig_a_set "$(rdig $UA_ADDR "$UA_PORT" "$REGIONAL" A)")"
  check_eq "unbound A: regional name of app-to-inventory" "$A_INV" "$(dig_a_set "$(rdig $UA_ADDR "$UA_PORT" "$REGIONAL_INV" A)")"
  check_eq "unbound A: zonal name $ZONAL" "$ZONAL_A" "$(dig_a_set "$(rdig $UA_ADDR "$UA_PORT" "$ZONAL" A)")"
  out=$(rdig $UA_ADDR "$UA_PORT" "x.$PRIV" A)
  check_eq "unbound A: x.$PRIV → NXDOMAIN (private zone)" NXDOMAIN "$(dig_status "$out")"
  check_eq "unbound A: x.$PRIV authority is the private SOA" "$PRIV. SOA" "$(dig_authority "$out")"
  out=$(rdig $UA_ADDR "$UA_PORT" "$PRIV" AAAA)
  check_eq "unbound A: $PRIV AAAA → NODATA status" NOERROR "$(dig_status "$out")"
  check_eq "unbound A: $PRIV AAAA → no answers" 0 "$(dig_count ANSWER "$out")"
  out=$(rdig $UA_ADDR "$UA_PORT" "no-such-name.$APEX" A)
  check_eq "unbound A: no-such-name.$APEX → NXDOMAIN" NXDOMAIN "$(dig_status "$out")"
  check_true "unbound A still running" kill -0 "$UA_PID"
}
[ -n "$LISTENER_UP" ] && check_unbound_a

# --- through unbound B: vpc-0b000002's view (by source address) ------------------------------------------------
for round in first cached; do
  out=$(rdig $UB_ADDR "$UB_PORT" "$PRIV" A)
  check_eq "unbound B ($round): $PRIV A → billing-to-orders's ENIs" "$A_BILL" "$(dig_a_set "$out")"
done
check_eq "unbound B: regional name of app-to-orders (public names in every view)" "$A_APP" \
  "$(dig_a_set "$(rdig $UB_ADDR "$UB_PORT" "$REGIONAL" A)")"
out=$(rdig $UB_ADDR "$UB_PORT" "x.$PRIV" A)
check_eq "unbound B: x.$PRIV → NXDOMAIN" NXDOMAIN "$(dig_status "$out")"

# --- vpced saw the resolvers' queries as the views we meant: direct queries agree -------------------------------
check_eq "direct from $UB_SOURCE: $PRIV A (what unbound B must see)" "$A_BILL" \
  "$(dig_a_set "$(vdig $UB_SOURCE 127.0.0.1 "$PORT" "$PRIV" A)")"
check_eq "direct from 127.0.0.1 (unbound's source without a listener): REFUSED" REFUSED \
  "$(dig_status "$(vdig 127.0.0.1 127.0.0.1 "$PORT" "$PRIV" A)")"

check_true "vpced still running" kill -0 "$PID"
check_true "unbound B still running" kill -0 "$UB_PID"
