#!/usr/bin/env bash
# Snapshot build, start-up, memory and reload benchmark (docs/performance.md "Snapshot build, reload and
# memory"). A 100,000-endpoint config (tests/integration/transfer/gen_big.py: 600,003 records), then:
#  (a) `vpced check` wall time (the whole load path: parse, identity, model, zones, snapshot);
#  (b) time from `vpced run` (and `knotd` on the same zone file from `vpced zone`) to the first answer;
#  (c) PSS and RSS once answering; (d) `POST /v1/reload` wall time for a one-endpoint change (the admin
#  API returns when the new snapshot is live), then RSS once the replaced snapshots are freed; (e) 20
#  reloads, each a one-endpoint change, during a dnsperf run on the 1,000 x 5 bench config: dnsperf's
#  "Queries lost" must be 0.
# vpced runs with one DNS and one relay thread (the 1,000 x 5 config has 15,000 relay listeners; one socket
# each per relay thread). Rounds alternate vpced and Knot; medians; every process started is stopped by its pid.
# usage: bench/reload.sh BUILD_DIR   (environment: ROUNDS ENDPOINTS RELOADS DURATION)
set -u
BUILD=$(readlink -f "${1:-build}")
SRC=$(dirname "$(dirname "$(readlink -f "$0")")")
VPCED=$BUILD/cmd/vpced
ROUNDS=${ROUNDS:-3}
ENDPOINTS=${ENDPOINTS:-100000}
RELOADS=${RELOADS:-20}
DURATION=${DURATION:-20}       # seconds of the dnsperf run that the reloads happen in
PY=/usr/bin/python3
. "$SRC/bench/lib.sh"
read -r FREE_PORT ADMIN <<<"$(free_ports 2)"
PORT=${PORT:-$FREE_PORT}

bash "$SRC/bench/install.sh" || { echo "bench/install.sh failed" >&2; exit 1; }
[ -x "$VPCED" ] || { echo "no $VPCED: build first" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/vpced-bench-reload.XXXXXX")
SERVER_PID=""
cleanup() {
  [ -n "${PERF_PID:-}" ] && kill "$PERF_PID" 2>/dev/null
  [ -n "${TARGETS_PID:-}" ] && kill "$TARGETS_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mem_kb() {  # "PSS RSS" of one process
  echo "$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0) $(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)"
}
answers() { dig +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$1" "${2:-A}" 2>/dev/null | grep -q 'status: NOERROR'; }
# Starts a server in its own session and waits for an answer to NAME; FIRST_MS gets the milliseconds it
# took. Not to be called in $(...): SERVER_PID must stay in this shell.
start_timed() {  # KIND NAME
  local t0
  if answers "$2"; then echo "something already answers on port $PORT" >&2; return 1; fi
  t0=$(now_ms)
  case $1 in
    vpced) setsid "$VPCED" run -c "$CONF" --threads 1 --relay-threads 1 >"$W/vpced.log" 2>&1 & ;;
    knot) setsid knotd -c "$W/knot.conf" >"$W/knot.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 6000); do
    if answers "$2"; then FIRST_MS=$(( $(now_ms) - t0 )); return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "$1 did not answer; log: $(tail -3 "$W/$1.log")" >&2
  return 1
}
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}
reload() {  # prints the wall milliseconds of POST /v1/reload; fails unless it answered ok
  local t0 t1 out
  t0=$(now_ms)
  out=$(curl -s -m 120 -X POST "http://127.0.0.1:$ADMIN/v1/reload")
  t1=$(now_ms)
  grep -q '"ok": *true' <<<"$out" || { echo "reload failed: $out" >&2; return 1; }
  echo $((t1 - t0))
}
# A one-endpoint change: endpoint e0 loses (then regains) its third subnet, so one regional and one zonal
# name change and every reload publishes a new serial.
toggle_endpoint() {  # CONFIG
  if grep -q '^{name="e0",.*"subnet-00010002"' "$1"; then
    sed -i '/^{name="e0",/s/,"subnet-00010002"//' "$1"
  else
    sed -i '/^{name="e0",/s/"subnet-00010001"/"subnet-00010001","subnet-00010002"/' "$1"
  fi
}

# --- inputs --------------------------------------------------------------------------------------------------
mkdir -p "$W/big" "$W/small"
CONF=$W/big/big.toml
$PY "$SRC/tests/integration/transfer/gen_big.py" "$CONF" "$PORT" "$ADMIN" "$ENDPOINTS"
openssl rand -base64 32 >"$W/big/pub.key"  # the config's [transfer] key
chmod 600 "$W/big/pub.key"
t0=$(now_ms)
"$VPCED" zone -c "$CONF" >"$W/zone.txt" || { echo "vpced zone failed" >&2; exit 1; }
zone_ms=$(( $(now_ms) - t0 ))
APEX=$(awk '$4 == "SOA" {print $1; exit}' "$W/zone.txt")
NAME=$(awk '$4 == "A" && $1 ~ /^vpce-/ {print $1; exit}' "$W/zone.txt")
RECORDS=$(grep -c $'\tIN\t' "$W/zone.txt")
NAMES=$(awk '$3 == "IN" {print $1}' "$W/zone.txt" | sort -u | wc -l)
mkdir -p "$W/knot"
knot_conf "$PORT" 1 "$APEX" "$W/zone.txt"
echo "config: $ENDPOINTS endpoints, $RECORDS records, $NAMES names; vpced zone took $zone_ms ms" | tee "$W/summary.txt"

# --- (a) check, (b) first answer, (c) memory, (d) reload: rounds alternate vpced and Knot ---------------------
echo -e "round\tcheck_ms\tvpced_first_ms\tvpced_pss\tvpced_rss\treload_ms\tknot_first_ms\tknot_pss\tknot_rss\tvpced_rss_reloaded" >"$W/results.tsv"
for round in $(seq "$ROUNDS"); do
  t0=$(now_ms)
  "$VPCED" check -c "$CONF" >/dev/null || { echo "vpced check failed" >&2; exit 1; }
  check_ms=$(( $(now_ms) - t0 ))
  start_timed vpced "$NAME" || exit 1
  vfirst=$FIRST_MS
  sleep 2
  read -r vpss vrss <<<"$(mem_kb "$SERVER_PID")"
  : >"$W/reload_ms"
  for _ in 1 2 3; do
    toggle_endpoint "$CONF"
    reload >>"$W/reload_ms" || exit 1
  done
  reload_ms=$(median <"$W/reload_ms")
  # Memory once the replaced snapshots are gone (vpced_snapshots_retained 0, or 10 s at most): a reload must
  # not leave the previous snapshot, or the build's transient pages, resident.
  for _ in $(seq 100); do
    curl -s "http://127.0.0.1:$ADMIN/metrics" | grep -q '^vpced_snapshots_retained 0$' && break
    sleep 0.1
  done
  sleep 1  # the admin API trims the heap after a large answer (this /metrics), once it has been sent
  read -r _ vrss_reloaded <<<"$(mem_kb "$SERVER_PID")"
  stop_server
  start_timed knot "$NAME" || exit 1
  kfirst=$FIRST_MS
  sleep 2
  read -r kpss krss <<<"$(mem_kb "$SERVER_PID")"
  stop_server
  echo -e "$round\t$check_ms\t$vfirst\t$vpss\t$vrss\t$reload_ms\t$kfirst\t$kpss\t$krss\t$vrss_reloaded" | tee -a "$W/results.tsv"
done

# --- (e) reloads during a dnsperf run on the 1,000 x 5 bench config --------------------------------------------
SCONF=$W/small/bench.toml
$PY "$SRC/bench/gen_config.py" "$SCONF" "$W/small/state" "127.0.0.1:$PORT"
sed -i "/^\[server\]/a admin_listen = \"127.0.0.1:$ADMIN\"" "$SCONF"
"$VPCED" zone -c "$SCONF" >"$W/small/zone.txt" || { echo "vpced zone (bench config) failed" >&2; exit 1; }
$PY "$SRC/bench/make_queries.py" "$W/small/zone.txt" "$W/small/queries.txt" 100000
SNAME=$(awk '$4 == "A" && $1 ~ /^vpce-/ {print $1; exit}' "$W/small/zone.txt")
# Its 1,000 targets (127.1.x.y:9443) accept connections, so that health checks do not mark them unhealthy
# one by one: each of those would rebuild and republish the snapshot in the middle of the measurement.
$PY - "$SCONF" >"$W/targets.log" 2>&1 <<'PYEOF' &
import re, socket, sys, time
socks = []
for host, port in set(re.findall(r'address = "([0-9.]+):([0-9]+)"', open(sys.argv[1]).read())):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port))); s.listen(128); socks.append(s)
print(len(socks), "targets listening", flush=True)
while True:
    for s in socks:
        s.setblocking(False)
        try:
            while True: s.accept()[0].close()
        except BlockingIOError:
            pass
    time.sleep(0.2)
PYEOF
TARGETS_PID=$!
sleep 1
CONF=$SCONF
start_timed vpced "$SNAME" || exit 1
dnsperf -s 127.0.0.1 -p "$PORT" -d "$W/small/queries.txt" -c 8 -T 1 -l "$DURATION" >"$W/dnsperf.out" 2>&1 &
PERF_PID=$!
sleep 1
: >"$W/small/reload_ms"
# One reload every (DURATION - 2) / RELOADS seconds, each one a one-endpoint change of the small config.
gap=$(awk -v d="$DURATION" -v n="$RELOADS" 'BEGIN {printf "%.3f", (d - 2) / n}')
for _ in $(seq "$RELOADS"); do
  # gen_config.py names endpoints svcS-vpcV: svc0-vpc0 loses (then regains) its third subnet.
  $PY - "$SCONF" <<'PYEOF'
import sys
p = sys.argv[1]; s = open(p).read()
i = s.index('name = "svc0-vpc0"'); j = s.index("subnets = ", i); k = s.index("\n", j)
three = 'subnets = ["subnet-00010000", "subnet-00010001", "subnet-00010002"]'
s = s[:j] + ('subnets = ["subnet-00010000", "subnet-00010001"]' if s[j:k] == three else three) + s[k:]
open(p, "w").write(s)
PYEOF
  reload >>"$W/small/reload_ms" || { kill "$PERF_PID" 2>/dev/null; exit 1; }
  sleep "$gap"
done
wait "$PERF_PID"
PERF_PID=""
stop_server
kill "$TARGETS_PID" 2>/dev/null
wait "$TARGETS_PID" 2>/dev/null
TARGETS_PID=""
lost=$(sed -n 's/^ *Queries lost: *\([0-9]*\).*/\1/p' "$W/dnsperf.out" | head -1)
sent=$(sed -n 's/^ *Queries sent: *\([0-9]*\).*/\1/p' "$W/dnsperf.out" | head -1)
qps=$(sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p' "$W/dnsperf.out" | head -1)
small_reload=$(median <"$W/small/reload_ms")
echo -e "$RELOADS reloads during dnsperf: sent $sent, lost $lost, $qps qps; reload median $small_reload ms" | tee -a "$W/summary.txt"

$PY - "$W/results.tsv" "$ROUNDS" "$RELOADS" "$sent" "$lost" "$small_reload" "$NAMES" "$RECORDS" <<'PYEOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
rounds, reloads, sent, lost, small_reload, names, records = sys.argv[2:]
m = lambda c: statistics.median(float(r[c]) for r in rows)
ratio = lambda a, b: f"{a / b:.2f}" if b else "n/a"
print(f"\nmedians of {rounds} rounds; {names} names, {records} records (the same zone file for Knot)\n")
print("| metric | vpced | Knot | vpced/Knot | target |")
print("| --- | ---: | ---: | ---: | --- |")
print(f"| vpced check (load + build), ms | {m('check_ms'):.0f} | | | build + swap < 1000 |")
print(f"| start to first answer, ms | {m('vpced_first_ms'):.0f} | {m('knot_first_ms'):.0f} | {ratio(m('vpced_first_ms'), m('knot_first_ms'))} | ≤ 1.00 |")
print(f"| PSS KiB after start | {m('vpced_pss'):.0f} | {m('knot_pss'):.0f} | {ratio(m('vpced_pss'), m('knot_pss'))} | ≤ 1.00 |")
print(f"| RSS KiB after start | {m('vpced_rss'):.0f} | {m('knot_rss'):.0f} | {ratio(m('vpced_rss'), m('knot_rss'))} | ≤ 1.00 |")
print(f"| POST /v1/reload, one-endpoint change, ms (median of 3 per round) | {m('reload_ms'):.0f} | | | < 1000 |")
print(f"| RSS KiB after those 3 reloads (replaced snapshots freed) | {m('vpced_rss_reloaded'):.0f} | {m('knot_rss'):.0f} | {ratio(m('vpced_rss_reloaded'), m('knot_rss'))} | |")
print(f"| {reloads} reloads during dnsperf (1,000 x 5 config): queries lost | {lost} of {sent} | | | 0 |")
print(f"| reload on the 1,000 x 5 config, ms (median) | {float(small_reload):.0f} | | | |")
PYEOF
echo "raw results: $W/results.tsv $W/summary.txt"
