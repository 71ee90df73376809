#!/usr/bin/env bash
# The relay holds no per-connection residue (issue: "no fd or memory growth across millions of connections"):
# `vpced run` relays SOAK_CONNECTIONS short connections (default 100,000; the note in docs/performance.md
# gives a 2,000,000 run) with PROXY v2 from bench/tcp_load to a tcp_load server, and its open fds and RSS
# are compared after a warm-up and at the end, once every connection has closed.
# usage: soak.sh VPCED SOURCE_DIR TCP_LOAD
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

LOAD=$(readlink -f "${3:-}")
[ -x "$LOAD" ] || die "tcp_load '$LOAD' is not executable (third argument)"
N=${SOAK_CONNECTIONS:-100000}
WARM=10000
PORT=$(free_port) || die "no free port"
ADMIN_PORT=$(free_port) || die "no free port"
ADMIN="127.0.0.1:$ADMIN_PORT"
TPORT=$(free_port) || die "no free port"
LISTEN=$(free_port) || die "no free port"
APEX=us-east-1.vpce.amazonaws.com
cat >"$CONF" <<TOML
[region]
name = "us-east-1"
azs = ["use1-az1", "use1-az2"]

[server]
state_dir = "state"
dns_listen = ["127.0.0.1:$PORT"]
admin_listen = "$ADMIN"

[[accounts]]
id = "111122223333"
az_names = { "us-east-1a" = "use1-az1", "us-east-1b" = "use1-az2" }

[[vpcs]]
id = "vpc-0b000001"
account = "111122223333"
dns_clients = ["127.17.0.0/16"]
subnets = [{ id = "subnet-0b00001a", az = "us-east-1a", cidr = "127.17.1.0/24" }]

[[services]]
name = "soak"
owner = "111122223333"
azs = ["use1-az1"]
acceptance_required = false
allowed_principals = ["*"]
  [services.load_balancer]
  proxy_protocol_v2 = true
  listeners = [$LISTEN]
  targets = [{ address = "127.0.0.91:$TPORT", az = "use1-az1" }]

[[endpoints]]
name = "soak-ep"
vpc = "vpc-0b000001"
service = "soak"
principal = "arn:aws:iam::111122223333:root"
subnets = ["subnet-0b00001a"]
TOML

ENI=$("$VPCED" describe -c "$CONF" --json | "$PY" -c '
import json, sys
e = json.load(sys.stdin)["VpcEndpoints"][0]
print(e["NetworkInterfaces"][0]["PrivateIpAddress"])') || die "vpced describe failed"

"$LOAD" serve "127.0.0.91:$TPORT" &
SERVER=$!
start_vpced

ready=""
for _ in $(seq 1 50); do
  body=$(api GET /v1/status)
  if grep -q "\"$ENI:$LISTEN\"" <<<"$body"; then ready=1; break; fi
  sleep 0.2  # poll interval of the readiness loop
done
check_true "relay listens on $ENI:$LISTEN" test -n "$ready"
PIPES_AT_START=$(find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 -lname 'pipe:*' | wc -l)

# Sockets and pipes held by vpced. Pipes are the relay's splice pool: bounded (64 idle pipes per relay thread).
fds() { find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' | wc -l; }
pipes() { find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 -lname 'pipe:*' | wc -l; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
# Every relayed connection has closed on both sides (the relay's own active gauge is back to 0).
metrics() { curl -sf "http://$ADMIN/metrics"; }
active() { metrics | awk '/^vpced_relay_active_connections\{/ {s += $2} END {print s + 0}'; }
settle() {
  for _ in $(seq 1 100); do
    [ "$(active)" = "0" ] && return 0
    sleep 0.1  # poll interval
  done
  return 1
}

out=$("$LOAD" connect "$ENI:$LISTEN" -n "$WARM" -c 64 -t 120 -s 127.17.1)
check_match "warm-up: every connection answered" "^connections $WARM failed 0 " "$out"
settle
fd0=$(fds)
rss0=$(rss_kib)

out=$("$LOAD" connect "$ENI:$LISTEN" -n "$N" -c 64 -t 600 -s 127.17.1)
check_match "$N connections answered through the relay (PROXY v2 parsed by the target)" "^connections $N failed 0 " "$out"
echo "soak: $out"
check_true "every relayed connection closed" settle
fd1=$(fds)
rss1=$(rss_kib)
pipes1=$(pipes)
echo "soak: sockets $fd0 -> $fd1, pipe fds $pipes1, RSS $rss0 KiB -> $rss1 KiB after $N connections"
check_eq "no socket growth across $N connections" "$fd0" "$fd1"
check_true "splice pipes within the pool bound ($PIPES_AT_START + $pipes1 fds)" \
  test "$((pipes1 - PIPES_AT_START))" -le $((2 * 64 * $(nproc)))
# Allocator noise (glibc arenas and caches) is bounded; a leak of even 40 bytes per connection would exceed it.
# Not in sanitizer builds (SOAK_SANITIZED=1): ASan's quarantine keeps freed memory; LeakSanitizer checks there.
if [ "${SOAK_SANITIZED:-0}" != 1 ]; then
  check_true "RSS growth below 4 MiB across $N connections ($rss0 -> $rss1 KiB)" test $((rss1 - rss0)) -lt 4096
fi
total=$(metrics | awk '/^vpced_relay_connections_total\{/ {s += $2} END {printf "%d", s}')
check_eq "connections counted" "$((WARM + N))" "$total"

stop_vpced
stop_by_pid "tcp_load server" "$SERVER"
true  # the EXIT trap (lib.sh finish) reports
