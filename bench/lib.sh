# Shared by the bench scripts (sourced; they set SRC, and W for nsd_conf).

# Prints N ports (default 1) free for both TCP and UDP on 127.0.0.1 right now, all different
# (scripts/free_ports.py, which the integration tests use too).
free_ports() { /usr/bin/python3 "$SRC/scripts/free_ports.py" "${1:-1}"; }

# Writes $W/nsd.conf: `nsd -d` serving ZONE from FILE on 127.0.0.1@PORT with COUNT server processes, no
# rate limiting, no control port, everything it writes under $W.  usage: nsd_conf PORT COUNT ZONE FILE
nsd_conf() {
  cat >"$W/nsd.conf" <<NSD
server:
  ip-address: 127.0.0.1@$1
  server-count: $2
  rrl-ratelimit: 0
  database: ""
  zonelistfile: "$W/nsd.zonelist"
  xfrdfile: "$W/nsd.xfrd"
  xfrdir: "$W"
  pidfile: "$W/nsd.pid"
  username: ""
  chroot: ""
  zonesdir: "$W"
  verbosity: 0
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: $3
  zonefile: $4
NSD
}

# Writes $W/knot.conf: knotd serving ZONE from FILE on 127.0.0.1@PORT with THREADS UDP and TCP workers, the
# zone file never rewritten and no journal, everything it writes under $W.  usage: knot_conf PORT THREADS ZONE
# FILE (mkdir "$W/knot" first)
knot_conf() {
  cat >"$W/knot.conf" <<KNOT
server:
  listen: 127.0.0.1@$1
  rundir: $W/knot
  udp-workers: $2
  tcp-workers: $2
  background-workers: 1
database:
  storage: $W/knot
log:
  - target: stderr
    any: warning
zone:
  - domain: $3
    storage: $W
    file: $4
    journal-content: none
    zonefile-sync: -1
KNOT
}
