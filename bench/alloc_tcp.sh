#!/usr/bin/env bash
# No heap allocation per pipelined TCP query (docs/performance.md): `vpced run` on the bench config with the
# counting bench/alloc_preload library, one connection sending batches of 100 queries in one piece
# (bench/alloc_tcp.py); fails when the whole process allocated more than LIMIT times over BATCHES batches.
# usage: bench/alloc_tcp.sh ALLOC_PRELOAD_SO VPCED [BATCHES] [LIMIT]
set -u
PRELOAD=$(readlink -f "$1")
VPCED=$(readlink -f "$2")
BATCHES=${3:-1000}
LIMIT=${4:-10}
SRC=$(dirname "$(dirname "$(readlink -f "$0")")")
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/vpced-bench-alloc-tcp.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
  fi
  rm -rf "$W"
}
trap cleanup EXIT
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADMIN=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$PY "$SRC/bench/gen_config.py" "$W/bench.toml" "$W/state" "127.0.0.1:$PORT" 200 5 >/dev/null
sed -i "s/^\[server\]\$/[server]\nadmin_listen = \"127.0.0.1:$ADMIN\"/" "$W/bench.toml"
"$VPCED" zone -c "$W/bench.toml" >"$W/zone.txt" || { echo "vpced zone failed" >&2; exit 1; }
APEX=$(awk '$4 == "SOA" {print $1; exit}' "$W/zone.txt")
ALLOC_COUNT_FILE="$W/count" LD_PRELOAD="$PRELOAD" "$VPCED" run -c "$W/bench.toml" --threads 1 >"$W/vpced.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  dig +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$APEX" SOA 2>/dev/null | grep -q 'status: NOERROR' && break
  kill -0 "$PID" 2>/dev/null || { echo "vpced exited: $(tail -3 "$W/vpced.log")" >&2; exit 1; }
  sleep 0.1  # poll interval of the readiness loop
done
$PY "$SRC/bench/alloc_tcp.py" "$PORT" "$W/zone.txt" "$W/count" "$BATCHES" "$LIMIT"
