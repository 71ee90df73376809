#!/usr/bin/env bash
# Relay benchmark (docs/performance.md): `vpced run` against HAProxy (mode tcp) and direct loopback, on the
# same loopback targets, alternately per round (vpced, haproxy, direct), medians over ROUNDS:
#   bulk      iperf3 -t DURATION through the relay (no PROXY header: iperf3 speaks its own protocol)
#   conn/s    bench/tcp_load connect: new connections per second, each "GET\n" → "OK n\n" → close, with a
#             PROXY v2 header to the target (vpced proxy_protocol_v2, haproxy send-proxy-v2), and the relay
#             process's CPU time (user + system, /proc/PID/stat) per connection during that run: the load
#             generator and the target share the host's cores, so on a busy host that figure varies less
#             than the rate
#   idle      IDLE connections opened and held: relay RSS and fds added, per 10k connections
# Every process it starts is stopped by pid. usage: bench/relay.sh BUILD_DIR
# (environment: THREADS ROUNDS DURATION IDLE CONCURRENCY)
set -u
BUILD=$(readlink -f "${1:-build}")
SRC=$(dirname "$(dirname "$(readlink -f "$0")")")
VPCED=$BUILD/cmd/vpced
LOAD=$BUILD/bench/tcp_load
THREADS=${THREADS:-1}          # relay threads: vpced --relay-threads, haproxy nbthread
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}        # seconds per bulk and conn/s run
IDLE=${IDLE:-5000}             # idle connections (ulimit -n bounds it: the relay holds two fds each)
CONCURRENCY=${CONCURRENCY:-64}
PY=/usr/bin/python3

bash "$SRC/bench/install.sh" || { echo "bench/install.sh failed" >&2; exit 1; }
for f in "$VPCED" "$LOAD"; do [ -x "$f" ] || { echo "no $f: build first (make build)" >&2; exit 1; }; done
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
W=$(mktemp -d "${TMPDIR:-/tmp}/vpced-bench-relay.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT

. "$SRC/bench/lib.sh"
read -r IPERF_PORT SERVE_PORT DNS_PORT ADMIN_PORT BULK_PORT CONN_PORT HAP_BULK HAP_CONN <<<"$(free_ports 8)"

cat >"$W/relay.toml" <<TOML
[region]
name = "us-east-1"
azs = ["use1-az1"]

[server]
state_dir = "state"
dns_listen = ["127.0.0.1:$DNS_PORT"]
admin_listen = "127.0.0.1:$ADMIN_PORT"

[[accounts]]
id = "111122223333"
az_names = { "us-east-1a" = "use1-az1" }

[[vpcs]]
id = "vpc-0c000001"
account = "111122223333"
dns_clients = ["127.18.0.0/16"]
subnets = [{ id = "subnet-0c00001a", az = "us-east-1a", cidr = "127.18.1.0/24" }]

[[services]]
name = "bulk"
owner = "111122223333"
azs = ["use1-az1"]
acceptance_required = false
allowed_principals = ["*"]
  [services.load_balancer]
  proxy_protocol_v2 = false
  listeners = [$BULK_PORT]
  targets = [{ address = "127.0.0.93:$IPERF_PORT", az = "use1-az1" }]

[[services]]
name = "conn"
owner = "111122223333"
azs = ["use1-az1"]
acceptance_required = false
allowed_principals = ["*"]
  [services.load_balancer]
  proxy_protocol_v2 = true
  listeners = [$CONN_PORT]
  targets = [{ address = "127.0.0.94:$SERVE_PORT", az = "use1-az1" }]

[[endpoints]]
name = "to-bulk"
vpc = "vpc-0c000001"
service = "bulk"
principal = "arn:aws:iam::111122223333:root"
subnets = ["subnet-0c00001a"]

[[endpoints]]
name = "to-conn"
vpc = "vpc-0c000001"
service = "conn"
principal = "arn:aws:iam::111122223333:root"
subnets = ["subnet-0c00001a"]
TOML
ENIS=$("$VPCED" describe -c "$W/relay.toml" --json | $PY -c '
import json, sys
for e in json.load(sys.stdin)["VpcEndpoints"]:
    print(e["NetworkInterfaces"][0]["PrivateIpAddress"], end=" ")') || { echo "vpced describe failed" >&2; exit 1; }
read -r ENI_BULK ENI_CONN <<<"$ENIS"

cat >"$W/haproxy.cfg" <<HAP
global
  nbthread $THREADS
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bulk
  bind 127.0.0.1:$HAP_BULK
  default_backend bulk
backend bulk
  server t 127.0.0.93:$IPERF_PORT
frontend conn
  bind 127.0.0.1:$HAP_CONN
  default_backend conn
backend conn
  server t 127.0.0.94:$SERVE_PORT send-proxy-v2
HAP

iperf3 -s -B 127.0.0.93 -p "$IPERF_PORT" >/dev/null 2>&1 &
PIDS+=($!)
"$LOAD" serve "127.0.0.94:$SERVE_PORT" &
PIDS+=($!)

RELAY_PID=""
start_relay() {  # vpced | haproxy
  if [ "$1" = vpced ]; then
    (cd "$W" && exec "$VPCED" run -c relay.toml --threads 1 --relay-threads "$THREADS" --log-level warn) 2>>"$W/vpced.log" &
    RELAY_PID=$!
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$ADMIN_PORT/v1/status" | grep -q "\"$ENI_CONN:$CONN_PORT\"" && return 0
      sleep 0.1
    done
    echo "vpced did not start (see $W/vpced.log)" >&2; exit 1
  else
    "$HAPROXY" -db -f "$W/haproxy.cfg" 2>>"$W/haproxy.log" &
    RELAY_PID=$!
    for _ in $(seq 1 100); do
      $PY -c "import socket; socket.create_connection(('127.0.0.1', $HAP_CONN), 1).close()" 2>/dev/null && return 0
      sleep 0.1
    done
    echo "haproxy did not start (see $W/haproxy.log)" >&2; exit 1
  fi
}
stop_relay() { kill "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=""; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

bulk() {  # ADDR PORT -> Gbit/s received
  iperf3 -c "$1" -p "$2" -t "$DURATION" -J 2>/dev/null |
    $PY -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
conns() {  # ADDR PORT PID -> "connections/s relay-CPU-µs-per-connection"
  local c0 c1 out
  c0=$(cpu_ticks "$3")
  out=$("$LOAD" connect "$1:$2" -n 100000000 -t "$DURATION" -c "$CONCURRENCY" -s 127.18.2)
  c1=$(cpu_ticks "$3")
  echo "$out" | awk -v t="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" '{printf "%s %.1f", $8, t * 1e6 / hz / $2}'
}
idle() {  # ADDR PORT PID -> "KiB-per-10k fds-per-connection"
  local r0 f0 r1 f1 holder
  r0=$(rss_kib "$3"); f0=$(fds "$3")
  mkfifo "$W/hold"
  "$LOAD" idle "$1:$2" -n "$IDLE" -s 127.18.3 <"$W/hold" >"$W/idle.out" &
  holder=$!
  exec 9>"$W/hold"
  for _ in $(seq 1 300); do grep -q '^open' "$W/idle.out" && break; sleep 0.1; done
  sleep 1  # the relay accepts and connects each one; let the last of them reach the target
  r1=$(rss_kib "$3"); f1=$(fds "$3")
  exec 9>&-
  wait "$holder"
  rm -f "$W/hold"
  awk -v r="$((r1 - r0))" -v f="$((f1 - f0))" -v n="$IDLE" 'BEGIN {printf "%.1f %.2f", r / n * 10000 / 1024, f / n}'
}

echo "round relay bulk_gbps conn_per_s cpu_us_per_conn idle_mib_per_10k fds_per_conn" >"$W/rows"
for round in $(seq 1 "$ROUNDS"); do
  for who in vpced haproxy; do
    start_relay "$who"
    if [ "$who" = vpced ]; then
      b=$(bulk "$ENI_BULK" "$BULK_PORT"); c=$(conns "$ENI_CONN" "$CONN_PORT" "$RELAY_PID"); i=$(idle "$ENI_CONN" "$CONN_PORT" "$RELAY_PID")
    else
      b=$(bulk 127.0.0.1 "$HAP_BULK"); c=$(conns 127.0.0.1 "$HAP_CONN" "$RELAY_PID"); i=$(idle 127.0.0.1 "$HAP_CONN" "$RELAY_PID")
    fi
    stop_relay
    echo "$round $who $b $c $i" >>"$W/rows"
    echo "round $round $who: bulk $b Gbit/s, $c (conn/s, relay CPU µs/conn), idle $i (MiB/10k, fds/conn)" >&2
  done
  d=$(bulk 127.0.0.93 "$IPERF_PORT")
  echo "$round direct $d 0 0 0 0" >>"$W/rows"
  echo "round $round direct: bulk $d Gbit/s" >&2
done

$PY - "$W/rows" "$THREADS" "$ROUNDS" "$DURATION" "$IDLE" "$CONCURRENCY" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
threads, rounds, duration, idle, conc = sys.argv[2:]
med = {w: [statistics.median(float(r[i]) for r in rows if r[1] == w) for i in range(2, 7)]
       for w in ("vpced", "haproxy", "direct")}
v, h, d = med["vpced"], med["haproxy"], med["direct"]
r = lambda a, b: f"{a / b:.2f}" if b else "n/a"
print(f"\nmedians of {rounds} rounds; {threads} relay thread(s); {duration} s runs; {idle} idle connections;"
      f" tcp_load -c {conc}\n")
print("| metric | vpced | haproxy | direct | vpced/haproxy | vpced/direct | target |")
print("|---|---|---|---|---|---|---|")
print(f"| bulk throughput (Gbit/s, iperf3) | {v[0]:.2f} | {h[0]:.2f} | {d[0]:.2f} | {r(v[0], h[0])} | {r(v[0], d[0])} | ≥ 1.2× haproxy, ≥ 0.8× direct |")
print(f"| new connections/s with PROXY v2 | {v[1]:.0f} | {h[1]:.0f} | – | {r(v[1], h[1])} | – | ≥ 1.2× haproxy |")
print(f"| relay CPU per connection (µs) | {v[2]:.1f} | {h[2]:.1f} | – | {r(v[2], h[2])} | – | – |")
print(f"| idle connections (MiB per 10k) | {v[3]:.1f} | {h[3]:.1f} | – | {r(v[3], h[3])} | – | ≤ 1× haproxy |")
print(f"| fds per idle connection | {v[4]:.2f} | {h[4]:.2f} | – | – | – | 2 |")
EOF
