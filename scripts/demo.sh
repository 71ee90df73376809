#!/usr/bin/env bash
# `make run`: vpced on conf/example.toml with the provider's side played by real programs on loopback:
#   - NSD, the provider's public DNS for example.com on 127.0.0.1:5399 (verify.nameservers points there), its
#     zone file a copy in conf/state/demo/ so that the tour can add the verification record;
#   - a demo backend on every target address, answering with what the PROXY v2 header told it.
# Everything stops with vpced (Ctrl-C).
# usage: scripts/demo.sh BUILD_DIR CONFIG
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
CONFIG=${2:-conf/example.toml}
DEMO=$(dirname "$CONFIG")/state/demo
mkdir -p "$DEMO"
DEMO=$(readlink -f "$DEMO")
[ -f "$DEMO/example.com.zone" ] || cp conf/demo/example.com.zone "$DEMO/example.com.zone"
cat >"$DEMO/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@5399
  port: 5399
  username: ""
  chroot: ""
  zonesdir: "$DEMO"
  database: ""
  zonelistfile: "$DEMO/zone.list"
  xfrdfile: "$DEMO/xfrd.state"
  xfrdir: "$DEMO"
  pidfile: "$DEMO/nsd.pid"
  logfile: "$DEMO/nsd.log"
  rrl-ratelimit: 0
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: example.com
  zonefile: example.com.zone
CONF

pids=()
stop() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  exit 0
}
trap stop EXIT INT TERM

if command -v nsd >/dev/null; then
  nsd -d -c "$DEMO/nsd.conf" &
  pids+=($!)
  echo "demo: NSD serving example.com on 127.0.0.1:5399 from $DEMO/example.com.zone (pid ${pids[-1]})" >&2
fi
/usr/bin/python3 scripts/demo_backend.py "$CONFIG" &
pids+=($!)

"$BUILD/cmd/vpced" run -c "$CONFIG" &
VPCED=$!
pids+=("$VPCED")
# wait returns when vpced exits, or at once when a signal arrives (then the trap stops everything).
wait "$VPCED"
