#!/usr/bin/env bash
# Installs the benchmark anchors (NSD, Knot, dnsperf; haproxy, iperf3, socat for the relay) when missing.
# Idempotent: nothing is fetched when every tool is already there. Debian's packages would start services;
# the benches start each daemon themselves in the foreground and stop it by pid.
set -eu
need=()
for pair in nsd:nsd knotd:knot dnsperf:dnsperf haproxy:haproxy iperf3:iperf3 socat:socat; do
  cmd=${pair%%:*}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("${pair#*:}")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "bench/install.sh: installing ${need[*]}" >&2
$SUDO apt-get install -y "${need[@]}" >/dev/null
