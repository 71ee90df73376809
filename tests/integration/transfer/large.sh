#!/usr/bin/env bash
# A large zone transfers completely, in many messages, each one signed (docs/secondaries.md "Large zones"):
# a generated config of ENDPOINTS endpoints (transfer/gen_big.py); `vpced zone` gives the record count; a
# TSIG AXFR by transfer/axfr_tsig.py (checks every MAC itself, RFC 8945 §5.3.1) and by kdig -y must carry
# exactly those records in more than one message; a Knot secondary pulls the zone with the key and serves the
# same number of records. Prints the measured transfer times, message counts and vpced's memory.
# usage: large.sh VPCED SOURCE_DIR ENDPOINTS
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

[ $# -ge 3 ] || die "usage: $0 VPCED SOURCE_DIR ENDPOINTS"
ENDPOINTS=$3
command -v knotd >/dev/null || die "knotd is not installed (scripts/install-deps.sh: knot)"
KNOT_PID=""
SAMPLER_PID=""
on_exit() {
  local rc=$?
  stop_by_pid sampler "$SAMPLER_PID"
  stop_by_pid knotd "$KNOT_PID"
  [ "$FAILS" -gt 0 ] && [ -s "$DIR/knot/knot.log" ] && { echo "---- knot.log ----" >&2; tail -n 20 "$DIR/knot/knot.log" >&2; }
  (exit $rc)
  finish
}
trap on_exit EXIT

PORT=$(free_port) || die "no free port"
admin=$(free_port) || die "no free port"
KNOT_PORT=$(free_port) || die "no free port"
ADMIN="127.0.0.1:$admin"
APEX=us-east-1.vpce.amazonaws.com
SECRET=$(openssl rand -base64 32)
KEY="hmac-sha256:pub-key:$SECRET"
echo "$SECRET" >"$DIR/pub.key"
chmod 600 "$DIR/pub.key"
"$PY" "$HERE/gen_big.py" "$CONF" "$PORT" "$admin" "$ENDPOINTS" || die "gen_big.py failed"
EXPECTED=$((3 + 6 * ENDPOINTS))   # SOA, NS, ns1 A, and per endpoint 3 regional + 3 zonal A records

# Start-up of a large config takes a while: poll (bounded) instead of lib.sh's 10 s.
t0=$(date +%s.%N)
"$VPCED" run -c "$CONF" 2>"$LOG" &
PID=$!
ready=0
for _ in $(seq 1 600); do
  kill -0 "$PID" 2>/dev/null || { wait "$PID"; PID=""; die "vpced exited during start-up"; }
  answer=$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$APEX" SOA 2>/dev/null)
  if [ -n "$answer" ] && [[ "$answer" != ";;"* ]]; then ready=1; break; fi
  sleep 0.2   # poll interval; the loop ends on the first answer
done
[ $ready -eq 1 ] || die "vpced did not answer within ~120 s"
START_S=$(echo "$(date +%s.%N) - $t0" | bc)
SERIAL=$(awk '{print $3}' <<<"$answer")
RSS_IDLE=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")

# vpced's memory while it serves the transfers below, every 50 ms.
( while kill -0 "$PID" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$PID/status"; sleep 0.05; done ) >"$DIR/rss.txt" &
SAMPLER_PID=$!

t0=$(date +%s.%N)
"$VPCED" zone -c "$CONF" >"$DIR/zone.txt" 2>"$DIR/zone.err" || die "vpced zone failed: $(cat "$DIR/zone.err")"
ZONE_S=$(echo "$(date +%s.%N) - $t0" | bc)
# count_rrs FILE: the records of a master file or of kdig's output (TSIG records aside).
count_rrs() { awk '$3 == "IN" && $4 != "TSIG"' "$1" | wc -l; }
ZONE_RECORDS=$(count_rrs "$DIR/zone.txt")
check_eq "vpced zone: records of $ENDPOINTS endpoints" "$EXPECTED" "$ZONE_RECORDS"

# Our own TSIG check of every message; an AXFR ends with the SOA again, one record more than the zone.
out=$("$PY" "$HERE/axfr_tsig.py" "$PORT" "$APEX" pub-key "$SECRET")
check_match "axfr_tsig.py: every message signed and verified" '^messages [0-9]+ records [0-9]+ signed [0-9]+' "$out"
read -r _ MESSAGES _ RECORDS _ SIGNED _ BYTES _ PY_S <<<"$out"
check_eq "AXFR records = vpced zone + closing SOA" "$((ZONE_RECORDS + 1))" "${RECORDS:-}"
check_eq "every message signed" "${MESSAGES:-x}" "${SIGNED:-y}"
check_true "the zone came in several messages (${MESSAGES:-0})" test "${MESSAGES:-0}" -gt 1
# ~16 KiB of records per message (docs/secondaries.md): no single message carries most of the zone.
check_true "messages of at most ~16 KiB of records ($BYTES bytes in $MESSAGES)" \
  test "${BYTES:-0}" -le "$(( ${MESSAGES:-0} * 20000 ))"

# kdig checks the TSIG of every message too (libknot's TSIG context) and counts.
t0=$(date +%s.%N)
kdig +stats +time=60 +retry=0 -y "$KEY" @127.0.0.1 -p "$PORT" "$APEX" AXFR >"$DIR/kdig.axfr" 2>&1
KDIG_RC=$?
KDIG_S=$(echo "$(date +%s.%N) - $t0" | bc)
check_eq "kdig -y AXFR: exit status" 0 "$KDIG_RC"
stats=$(grep '^;; Received' "$DIR/kdig.axfr")
check_match "kdig: received in messages" "\(([0-9]+) messages, $((ZONE_RECORDS + 1)) records\)" "$stats"
KDIG_MESSAGES=$(sed -n 's/.*(\([0-9]*\) messages.*/\1/p' <<<"$stats")
check_eq "kdig and axfr_tsig.py count the same messages" "$MESSAGES" "$KDIG_MESSAGES"
check_eq "kdig: no TSIG or transfer error" "" "$(grep -E '^;;' "$DIR/kdig.axfr" | grep -iE 'failed|error|bad|warning' | head -3)"
check_eq "kdig: records printed" "$((ZONE_RECORDS + 1))" "$(count_rrs "$DIR/kdig.axfr")"

# A Knot secondary pulls the zone with the key.
mkdir -p "$DIR/knot/db"
cat >"$DIR/knot/knot.conf" <<KNOT
server:
    rundir: "$DIR/knot"
    listen: 127.0.0.1@$KNOT_PORT
    pidfile: "$DIR/knot/knot.pid"
database:
    storage: "$DIR/knot/db"
log:
  - target: "$DIR/knot/knot.log"
    any: info
key:
  - id: pub-key
    algorithm: hmac-sha256
    secret: $SECRET
remote:
  - id: vpced
    address: 127.0.0.1@$PORT
    key: pub-key
acl:
  - id: local-transfer
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "$DIR/knot"
    zonefile-sync: -1
zone:
  - domain: $APEX
    master: vpced
    acl: local-transfer
KNOT
t0=$(date +%s.%N)
knotd -c "$DIR/knot/knot.conf" 2>>"$DIR/knot/knot.log" &
KNOT_PID=$!
got=""
for _ in $(seq 1 300); do
  got=$(kdig +time=1 +retry=0 +short @127.0.0.1 -p "$KNOT_PORT" "$APEX" SOA 2>/dev/null | awk '{print $3}')
  [ "$got" == "$SERIAL" ] && break
  sleep 0.2   # poll interval; the loop ends when Knot serves the zone
done
KNOT_S=$(echo "$(date +%s.%N) - $t0" | bc)
check_eq "knot serves vpced's serial" "$SERIAL" "$got"
knot_xfr=$(grep -E "AXFR, incoming, remote 127.0.0.1@$PORT, finished" "$DIR/knot/knot.log")
check_contains "knot logged a finished AXFR" "messages" "$knot_xfr"
kdig +time=30 +retry=0 @127.0.0.1 -p "$KNOT_PORT" "$APEX" AXFR >"$DIR/knot.axfr" 2>&1
knot_count=$(count_rrs "$DIR/knot.axfr")
check_eq "knot holds every record (AXFR from knot)" "$((ZONE_RECORDS + 1))" "$knot_count"

stop_by_pid sampler "$SAMPLER_PID"
SAMPLER_PID=""
RSS_PEAK=$(sort -n "$DIR/rss.txt" | tail -n 1)
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
echo "MEASURED endpoints=$ENDPOINTS records=$ZONE_RECORDS start=${START_S}s vpced_zone=${ZONE_S}s" \
     "axfr_tsig: ${MESSAGES} messages ${BYTES} bytes ${PY_S}s; kdig: ${KDIG_MESSAGES} messages ${KDIG_S}s;" \
     "knot: ready after ${KNOT_S}s (${knot_xfr##*finished, }); vpced RSS idle ${RSS_IDLE} kB, peak during transfers ${RSS_PEAK} kB, VmHWM ${HWM} kB"
check_true "vpced RSS during the transfers stays within 64 MiB of idle ($RSS_IDLE → $RSS_PEAK kB)" \
  test "${RSS_PEAK:-0}" -le "$(( ${RSS_IDLE:-0} + 65536 ))"
