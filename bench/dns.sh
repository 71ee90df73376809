#!/usr/bin/env bash
# UDP and TCP benchmark of vpced against NSD, Knot and PowerDNS Authoritative on loopback with dnsperf
# (docs/performance.md). 1,000 services x 5 endpoints (20,003 records), the same zone for all four servers
# (derived from `vpced zone`; PowerDNS reads it with its bind backend), one query file (80 % A hits, 10 % AAAA
# NODATA, 10 % NXDOMAIN). Per round and server, in the order vpced, NSD, Knot, PowerDNS, then vpced on the same
# names without load balancers (the relay's share, in a second table): start, warm up, a
# saturating run (qps, average latency), a fixed-rate run (CPU seconds from /proc/PID/stat per answered query,
# p99 latency from dnsperf -v), PSS/RSS, a saturating TCP run (dnsperf -m tcp: pipelined queries on CLIENTS
# connections), stop by pid. Medians over the rounds; ratios vpced/NSD, vpced/Knot, vpced/PowerDNS and
# vpced/best (the best of the three anchors for that row: highest qps, lowest latency, CPU or memory).
# usage: bench/dns.sh BUILD_DIR   (environment: THREADS ROUNDS DURATION RATE CLIENTS DNSPERF_THREADS)
set -u
BUILD=$(readlink -f "${1:-build}")
SRC=$(dirname "$(dirname "$(readlink -f "$0")")")
VPCED=$BUILD/cmd/vpced
THREADS=${THREADS:-1}          # server threads (vpced --threads, NSD server-count, Knot udp-workers,
                               # PowerDNS receiver-threads)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}       # seconds per dnsperf run
RATE=${RATE:-20000}            # qps of the fixed-rate run; must stay below every server's saturation
CLIENTS=${CLIENTS:-8}          # dnsperf -c (sockets)
DNSPERF_THREADS=${DNSPERF_THREADS:-1}
PY=/usr/bin/python3
. "$SRC/bench/lib.sh"
read -r FREE_PORT ADMIN_PORT <<<"$(free_ports 2)"
PORT=${PORT:-$FREE_PORT}

bash "$SRC/bench/install.sh" || { echo "bench/install.sh failed" >&2; exit 1; }
[ -x "$VPCED" ] || { echo "no $VPCED: build first" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/vpced-bench-dns.XXXXXX")
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; }
trap cleanup EXIT

# --- inputs --------------------------------------------------------------------------------------------------
$PY "$SRC/bench/gen_config.py" "$W/bench.toml" "$W/state" "127.0.0.1:$PORT"
# The admin API off its default port (8053), so two benches on one machine do not collide.
sed -i "s/^\[server\]\$/[server]\nadmin_listen = \"127.0.0.1:$ADMIN_PORT\"/" "$W/bench.toml"
"$VPCED" zone -c "$W/bench.toml" >"$W/zone.txt" || { echo "vpced zone failed" >&2; exit 1; }
APEX=$(awk '$4 == "SOA" {print $1; exit}' "$W/zone.txt")
# The same names with no load balancer (no relay): what vpced costs as a DNS server alone. It gets a copy of
# the state dir `vpced zone` just wrote: every endpoint keeps its identity, and the other zone's serial stays
# in the copy (bench.toml's must stay the one in zone.txt). Without targets a regional name answers all three
# ENIs, so this zone has 30,003 records where the anchors' has 20,003 (gen_config.py's shape).
cp -a "$W/state" "$W/state-names"
sed "/^  \[services.load_balancer\]\$/d; /^  listeners = /d; /^  targets = /d; s#^state_dir = .*#state_dir = \"$W/state-names\"#" \
  "$W/bench.toml" >"$W/names.toml"
$PY "$SRC/bench/make_queries.py" "$W/zone.txt" "$W/queries.txt" 100000

nsd_conf "$PORT" "$THREADS" "$APEX" "$W/zone.txt"
mkdir -p "$W/knot"
knot_conf "$PORT" "$THREADS" "$APEX" "$W/zone.txt"

# PowerDNS: its own config dir, the bind backend on the same zone file. Defaults otherwise (the packet cache
# included: that is what its users run), except what running unprivileged on loopback needs: no daemon, no
# guardian, no syslog, the control socket in the work dir, and no security poll (a DNS query to the outside).
# distributor-threads counts per receiver thread: one each makes THREADS of both.
mkdir -p "$W/pdns"
cat >"$W/pdns/named.conf" <<NAMED
options { directory "$W"; };
zone "$APEX" { type master; file "$W/zone.txt"; };
NAMED
cat >"$W/pdns/pdns.conf" <<PDNS
launch=bind
bind-config=$W/pdns/named.conf
local-address=127.0.0.1
local-port=$PORT
socket-dir=$W/pdns
receiver-threads=$THREADS
distributor-threads=1
disable-syslog=yes
security-poll-suffix=
PDNS

# --- helpers -------------------------------------------------------------------------------------------------
# Every server runs in its own session (setsid): NSD re-parents its workers when it forks, so the session,
# not the parent chain, is what holds all of a server's processes.
# /proc/PID/stat is parsed after the ")" of the command name, which may hold spaces ("nsd: xfrd").
stat_fields() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null; }  # field 3 (state) becomes $1
tree() {
  local f
  for f in /proc/[0-9]*/stat; do sed -n 's/^\([0-9]*\) .*) [A-Za-z] [0-9-]* [0-9-]* \([0-9-]*\) .*/\1 \2/p' "$f" 2>/dev/null; done |
    awk -v sid="$1" '$2 == sid {print $1}'
}
cpu_ticks() { local s=0 p; for p in $(tree "$1"); do s=$((s + $(stat_fields "$p" | awk '{print $12 + $13 + 0}'))); done; echo $s; }
mem_kb() {  # "PSS RSS" summed over the process tree (PSS counts forked, shared pages once)
  local pss=0 rss=0 p
  for p in $(tree "$1"); do
    pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
    rss=$((rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$pss $rss"
}
start_server() {
  case $1 in
    vpced) setsid "$VPCED" run -c "$W/bench.toml" --threads "$THREADS" >"$W/vpced.log" 2>&1 & ;;
    vpced-names) setsid "$VPCED" run -c "$W/names.toml" --threads "$THREADS" >"$W/vpced-names.log" 2>&1 & ;;
    nsd) setsid nsd -d -c "$W/nsd.conf" >"$W/nsd.log" 2>&1 & ;;
    knot) setsid knotd -c "$W/knot.conf" >"$W/knot.log" 2>&1 & ;;
    pdns) setsid pdns_server --config-dir="$W/pdns" --daemon=no --guardian=no >"$W/pdns.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do
    dig +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$APEX" SOA 2>/dev/null | grep -q 'status: NOERROR' && return 0
    sleep 0.1
  done
  echo "$1 did not answer; log: $(tail -3 "$W/$1.log")" >&2
  return 1
}
stop_server() {  # the server by its pid, then any process of its session still there, each by its pid
  local rest p
  rest=$(tree "$SERVER_PID")
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null
  for p in $rest; do [ "$p" != "$SERVER_PID" ] && kill "$p" 2>/dev/null; done
  SERVER_PID=""
}
perf() { dnsperf -s 127.0.0.1 -p "$PORT" -d "$W/queries.txt" -c "$CLIENTS" -T "$DNSPERF_THREADS" "$@" 2>&1; }
field() { sed -n "s/^ *$1: *\([0-9.]*\).*/\1/p" | head -1; }

# --- rounds --------------------------------------------------------------------------------------------------
echo -e "server\tround\tqps\tavg_ms\tlost\tp99_ms_fixed\tcpu_us_per_q\tpss_kb\trss_kb\tlost_fixed\tqps_tcp" >"$W/results.tsv"
for round in $(seq "$ROUNDS"); do
  for server in vpced nsd knot pdns vpced-names; do
    start_server "$server" || exit 1
    perf -l 1 >/dev/null  # warm up
    out=$(perf -l "$DURATION")
    qps=$(field 'Queries per second' <<<"$out")
    avg=$(field 'Average Latency (s)' <<<"$out")
    lost=$(field 'Queries lost' <<<"$out")
    t0=$(cpu_ticks "$SERVER_PID")
    perf -l "$DURATION" -Q "$RATE" -v >"$W/fixed.out"
    t1=$(cpu_ticks "$SERVER_PID")
    done_q=$(field 'Queries completed' <"$W/fixed.out")
    lost_fixed=$(field 'Queries lost' <"$W/fixed.out")
    p99=$(awk '/^> / {print $NF}' "$W/fixed.out" | sort -g | awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", a[i]*1000}')
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v q="$done_q" 'BEGIN {printf "%.2f", t / hz / q * 1e6}')
    read -r pss rss <<<"$(mem_kb "$SERVER_PID")"
    # TCP: the same queries pipelined on CLIENTS connections (dnsperf keeps up to 100 in flight on each).
    qps_tcp=$(perf -m tcp -l "$DURATION" | field 'Queries per second')
    stop_server
    avg_ms=$(awk -v a="$avg" 'BEGIN {printf "%.3f", a * 1000}')
    echo -e "$server\t$round\t$qps\t$avg_ms\t$lost\t$p99\t$cpu\t$pss\t$rss\t$lost_fixed\t$qps_tcp" | tee -a "$W/results.tsv"
  done
done

$PY - "$W/results.tsv" "$THREADS" "$RATE" "$CLIENTS" "$DURATION" "$ROUNDS" <<'PYEOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
threads, rate, clients, duration, rounds = sys.argv[2:]
cols = [("qps", "qps (saturated)"), ("avg_ms", "avg latency ms (saturated)"), ("p99_ms_fixed", f"p99 ms at {rate} qps"),
        ("cpu_us_per_q", f"CPU us/query at {rate} qps"), ("pss_kb", "PSS KiB"), ("rss_kb", "RSS KiB (sum)"),
        ("qps_tcp", f"qps over TCP ({clients} pipelining connections)")]
servers = ("vpced", "nsd", "knot", "pdns")
anchors = servers[1:]
higher_is_better = ("qps", "qps_tcp")
med = {s: {c: statistics.median(float(r[c]) for r in rows if r["server"] == s) for c, _ in cols} for s in servers}
print(f"\nmedians of {rounds} rounds; {threads} server thread(s), dnsperf -c {clients} -l {duration}\n")
print("| metric | vpced | NSD | Knot | PowerDNS | vpced/NSD | vpced/Knot | vpced/PowerDNS | vpced/best |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
ratio = lambda a, b: f"{a / b:.2f}" if b else "n/a"
for c, label in cols:
    v = med["vpced"][c]
    a = [med[s][c] for s in anchors]
    best = max(a) if c in higher_is_better else min(a)
    fmt = "{:.0f}" if c in ("qps", "qps_tcp", "pss_kb", "rss_kb") else "{:.3f}" if "ms" in c else "{:.2f}"
    print(f"| {label} | {fmt.format(v)} | " + " | ".join(fmt.format(x) for x in a) + " | " +
          " | ".join(ratio(v, x) for x in a) + f" | {ratio(v, best)} |")
# vpced on the same names without load balancers (names.toml): the relay's share of the rows above.
n = {c: statistics.median(float(r[c]) for r in rows if r["server"] == "vpced-names") for c, _ in cols}
print("\nvpced on the same names without load balancers (no relay; its regional names then answer all three ENIs:")
print("more records than the anchors serve)\n")
print("| metric | vpced, names only | best anchor | ratio |")
print("| --- | ---: | ---: | ---: |")
for c, label in cols:
    a = [med[s][c] for s in anchors]
    best = max(a) if c in higher_is_better else min(a)
    fmt = "{:.0f}" if c in ("qps", "qps_tcp", "pss_kb", "rss_kb") else "{:.3f}" if "ms" in c else "{:.2f}"
    print(f"| {label} | {fmt.format(n[c])} | {fmt.format(best)} | {ratio(n[c], best)} |")
print("\nper round, qps over TCP: " + "; ".join(
    s + " " + " / ".join(f"{float(r['qps_tcp']):.0f}" for r in rows if r["server"] == s) for s in servers))
PYEOF
echo "raw results: $W/results.tsv"
