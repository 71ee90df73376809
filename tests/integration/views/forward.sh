#!/usr/bin/env bash
# Forwarding with a real upstream (design §5, docs/dns.md "Forwarding"): NSD on loopback serves example.com
# (public api.orders.example.com and www.example.com); vpced has it as server.forwarders. A VPC that owns the
# verified private name gets the private answer; every other view, and every name outside the view's zones,
# gets NSD's answer relayed with the client's ID (NOERROR, NXDOMAIN, REFUSED as NSD said); names inside a
# private zone are never forwarded; NSD stopped → SERVFAIL within a few seconds, without delaying
# authoritative answers; NSD back → forwarding works again.
# usage: forward.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"
. "$HERE/common.sh"

PRIV=api.orders.example.com
APP=127.16.0.10   # vpc-0a000001: app-to-orders available, private DNS on
BILL=127.17.0.10  # vpc-0b000002: billing-to-orders available
REPT=127.18.0.10  # vpc-0c000003: reports-to-orders pendingAcceptance
PUB=127.0.0.1     # the public view
NSD_PID=""
SILENT_PID=""   # a fake upstream that never answers (bounded: exits after 15 s by itself)
SLOW_PID=""     # a dig waiting on it (bounded by +time)

command -v nsd >/dev/null || die "nsd is not installed (scripts/install-deps.sh)"

stop_nsd() {
  [ -n "$NSD_PID" ] || return 0
  local pid=$NSD_PID
  NSD_PID=""
  stop_by_pid nsd "$pid"
}

on_exit() {
  local rc=$? p
  stop_nsd
  for p in "$SLOW_PID" "$SILENT_PID"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  if [ "$FAILS" -gt 0 ] && [ -s "$DIR/nsd/nsd.log" ]; then
    echo "---- nsd log ----" >&2
    tail -n 30 "$DIR/nsd/nsd.log" >&2
  fi
  (exit $rc)
  finish
}
trap on_exit EXIT

# --- NSD: the "public internet" for example.com -----------------------------------------------------------
NSD_PORT=$(free_port) || die "no free port for nsd"
mkdir -p "$DIR/nsd"
cat >"$DIR/nsd/example.com.zone" <<'EOF'
$ORIGIN example.com.
$TTL 300
@       IN SOA  ns1.example.com. hostmaster.example.com. ( 2024010101 3600 600 86400 300 )
@       IN NS   ns1.example.com.
ns1     IN A    127.0.0.1
api.orders IN A 198.51.100.7
www     IN A    198.51.100.8
EOF
cat >"$DIR/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$NSD_PORT
    do-ip6: no
    server-count: 1
    zonesdir: "$DIR/nsd"
    database: ""
    pidfile: "$DIR/nsd/nsd.pid"
    xfrdfile: "$DIR/nsd/xfrd.state"
    zonelistfile: "$DIR/nsd/zone.list"
    username: ""
    chroot: ""
    logfile: "$DIR/nsd/nsd.log"
    verbosity: 1
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "example.com"
    zonefile: "example.com.zone"
EOF
out=$(nsd-checkconf "$DIR/nsd/nsd.conf" 2>&1) || die "nsd-checkconf: $out"

start_nsd() {
  nsd -d -c "$DIR/nsd/nsd.conf" >>"$DIR/nsd/nsd.out" 2>&1 &
  NSD_PID=$!
  local i
  for i in $(seq 1 50); do
    kill -0 "$NSD_PID" 2>/dev/null || { NSD_PID=""; die "nsd exited during start-up: $(cat "$DIR/nsd/nsd.out" "$DIR/nsd/nsd.log" 2>/dev/null)"; }
    [ "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$NSD_PORT" www.example.com A 2>/dev/null)" == 198.51.100.8 ] && return 0
    sleep 0.2
  done
  die "nsd did not answer on 127.0.0.1:$NSD_PORT within ~10 s"
}
start_nsd
check_eq "nsd itself: $PRIV A" 198.51.100.7 "$(dig +short +time=2 +tries=1 @127.0.0.1 -p "$NSD_PORT" "$PRIV" A)"

# --- vpced with nsd as forwarder, orders verified -----------------------------------------------------------
setup_config
"$PY" "$HERE/edit_config.py" "$CONF" --forwarder "127.0.0.1:$NSD_PORT" || die "cannot edit $CONF"
out=$("$VPCED" check -c "$CONF" 2>&1) || die "vpced check rejects the test config: $out"
describe_to "$DIR/describe.json"
seed_state verified orders
describe_to "$DIR/describe.json"
A_APP=$(eni_addrs "$DIR/describe.json" app-to-orders)
A_BILL=$(eni_addrs "$DIR/describe.json" billing-to-orders)
REGIONAL=$(endpoint_field "$DIR/describe.json" app-to-orders regional)
check_match "app-to-orders ENIs" '^127\.16\.' "$A_APP"
start_vpced

q() { vdig "$1" 127.0.0.1 "$PORT" "${@:2}"; }

# --- the owning VPCs: private answer, never forwarded ---------------------------------------------------------
out=$(q $APP "$PRIV" A)
check_eq "$PRIV A from $APP (owner): app-to-orders's ENIs, not NSD's" "$A_APP" "$(dig_a_set "$out")"
check_match "$PRIV A from $APP: AA" '(^| )aa( |$)' "$(dig_flags "$out")"
out=$(q $BILL "$PRIV" A)
check_eq "$PRIV A from $BILL (owner): billing-to-orders's ENIs" "$A_BILL" "$(dig_a_set "$out")"
out=$(q $APP "x.$PRIV" A)
check_eq "x.$PRIV A from $APP: NXDOMAIN from the private zone (not forwarded)" NXDOMAIN "$(dig_status "$out")"
check_eq "x.$PRIV A from $APP: authority is the private SOA, not NSD's" "$PRIV. SOA" "$(dig_authority "$out")"
out=$(q $APP "$PRIV" AAAA)
check_eq "$PRIV AAAA from $APP: NODATA status" NOERROR "$(dig_status "$out")"
check_eq "$PRIV AAAA from $APP: authority is the private SOA" "$PRIV. SOA" "$(dig_authority "$out")"
out=$(q $APP "$REGIONAL" A)
check_eq "regional name from $APP: authoritative answer" "$A_APP" "$(dig_a_set "$out")"

# --- everyone else: NSD's public answer ---------------------------------------------------------------------
for src in $REPT $PUB; do
  out=$(q "$src" "$PRIV" A)
  check_eq "$PRIV A from $src (not an owner): NSD's answer" 198.51.100.7 "$(dig_a_set "$out")"
  check_eq "$PRIV A from $src: status" NOERROR "$(dig_status "$out")"
  out=$(q "$src" +tcp "$PRIV" A)
  check_eq "$PRIV A from $src over TCP: NSD's answer" 198.51.100.7 "$(dig_a_set "$out")"
done
out=$(q $PUB "$PRIV" AAAA)
check_eq "$PRIV AAAA from $PUB: NSD's NODATA" NOERROR "$(dig_status "$out")"
check_eq "$PRIV AAAA from $PUB: NSD's SOA (example.com)" "example.com. SOA" "$(dig_authority "$out")"

# --- siblings of the private name, from the owning VPC: forwarded ---------------------------------------------
for src in $APP $BILL $PUB; do
  out=$(q "$src" www.example.com A)
  check_eq "www.example.com A from $src: NSD's answer" 198.51.100.8 "$(dig_a_set "$out")"
done
out=$(q $APP +tcp www.example.com A)
check_eq "www.example.com A from $APP over TCP: NSD's answer" 198.51.100.8 "$(dig_a_set "$out")"
out=$(q $APP nope.example.com A)
check_eq "nope.example.com A from $APP: NSD's NXDOMAIN relayed" NXDOMAIN "$(dig_status "$out")"
check_eq "nope.example.com A from $APP: NSD's SOA in authority" "example.com. SOA" "$(dig_authority "$out")"
out=$(q $PUB +tcp nope.example.com A)
check_eq "nope.example.com A from $PUB over TCP: NXDOMAIN relayed" NXDOMAIN "$(dig_status "$out")"
out=$(q $APP example.org A)
check_eq "example.org A from $APP: NSD's REFUSED relayed" REFUSED "$(dig_status "$out")"
out=$(q $APP orders.example.com A)
check_eq "orders.example.com (parent of the private name) from $APP: NSD's NODATA (empty non-terminal)" NOERROR \
  "$(dig_status "$out")"
check_eq "orders.example.com A from $APP: NSD's SOA in authority" "example.com. SOA" "$(dig_authority "$out")"

# --- the relay keeps each client's ID and question, also for a burst of concurrent queries ---------------------
py_checks "$HERE/burst.py" "$PORT" "$PUB" 198.51.100.7 198.51.100.8
py_checks "$HERE/burst.py" "$PORT" "$APP" "$A_APP" 198.51.100.8

# --- upstream down: SERVFAIL within a few seconds; authoritative answers are not delayed ------------------------
stop_nsd
start_ns=$(date +%s%N)
out=$(q $PUB +time=10 www.example.com A)
ms=$((($(date +%s%N) - start_ns) / 1000000))
check_eq "www.example.com A from $PUB with nsd stopped: status" SERVFAIL "$(dig_status "$out")"
check_true "SERVFAIL within 6 s (took $ms ms)" test "$ms" -le 6000
echo "upstream stopped: SERVFAIL after $ms ms"
out=$(q $APP +time=10 "$PRIV" AAAA)
check_eq "private NODATA from $APP with nsd stopped" NOERROR "$(dig_status "$out")"

# A forwarded query waits for the upstream; meanwhile authoritative answers come at once. A closed port is
# refused at once (ICMP), so make the upstream silent instead: a UDP socket on nsd's port that never answers.
"$PY" - "$NSD_PORT" "$DIR/silent.ready" <<'EOF' &
import socket, sys, time, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").close()
s.settimeout(15)
end = time.time() + 15
try:
    while time.time() < end:
        s.recv(4096)
except OSError:
    pass
EOF
SILENT_PID=$!
wait_until 5 test -e "$DIR/silent.ready" || fail "silent upstream did not start"
start_ns=$(date +%s%N)
q $PUB +time=12 www.example.com A >"$DIR/slow.out" &
SLOW_PID=$!
sleep 0.3   # let the forwarded query reach the silent upstream first
a_start=$(date +%s%N)
out=$(q $PUB +time=2 "$REGIONAL" A)
a_ms=$((($(date +%s%N) - a_start) / 1000000))
check_eq "authoritative answer while a forward hangs" "$A_APP" "$(dig_a_set "$out")"
# The hanging forward lasts ~5 s (the forwarder's timeout): an answer well under that was not queued behind it.
# The bound leaves room for dig's own start-up on a loaded machine.
check_true "authoritative answer while a forward hangs took $a_ms ms (< 2000)" test "$a_ms" -lt 2000
out=$(q $APP +time=2 "$PRIV" A)
check_eq "private answer while a forward hangs" "$A_APP" "$(dig_a_set "$out")"
wait "$SLOW_PID"
SLOW_PID=""
ms=$((($(date +%s%N) - start_ns) / 1000000))
check_eq "forward to a silent upstream: status" SERVFAIL "$(dig_status "$(cat "$DIR/slow.out")")"
check_true "forward to a silent upstream: SERVFAIL within 10 s (took $ms ms)" test "$ms" -le 10000
echo "upstream silent: SERVFAIL after $ms ms; authoritative answer meanwhile in $a_ms ms"
kill "$SILENT_PID" 2>/dev/null
wait "$SILENT_PID" 2>/dev/null
SILENT_PID=""

# --- upstream back: forwarding recovers ------------------------------------------------------------------------
start_nsd
fwd_ok() { [ "$(dig_a_set "$(q $PUB www.example.com A)")" == 198.51.100.8 ]; }
wait_until 10 fwd_ok || fail "forwarding did not recover within 10 s after nsd came back"
check_eq "$PRIV A from $PUB after nsd came back" 198.51.100.7 "$(dig_a_set "$(q $PUB "$PRIV" A)")"
check_eq "$PRIV A from $APP after nsd came back (still private)" "$A_APP" "$(dig_a_set "$(q $APP "$PRIV" A)")"

check_true "vpced still running" kill -0 "$PID"
check_true "nsd still running" kill -0 "$NSD_PID"
