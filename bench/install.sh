#!/usr/bin/env bash
# Installs the benchmark anchors (NSD, Knot, PowerDNS Authoritative with its bind backend, dnsperf; haproxy,
# iperf3, socat for the relay) when missing. Idempotent: nothing is fetched when every tool is already there.
# Debian's packages would start services; the benches start each daemon themselves in the foreground and stop
# it by pid, so a service the install started is stopped and disabled by its name.
set -eu
need=()
for pair in nsd:nsd knotd:knot pdns_server:pdns-server dnsperf:dnsperf haproxy:haproxy iperf3:iperf3 socat:socat; do
  cmd=${pair%%:*}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("${pair#*:}")
done
# PowerDNS reads zone files through its bind backend, a separate package.
ls /usr/lib/*/pdns/libbindbackend.so >/dev/null 2>&1 || need+=(pdns-backend-bind)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "bench/install.sh: installing ${need[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null
# pdns-server enables and starts pdns.service (port 53, /etc/powerdns) where systemd runs.
if [[ " ${need[*]} " == *" pdns-server "* ]] && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now pdns.service >/dev/null 2>&1 || true
fi
