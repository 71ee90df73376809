#!/usr/bin/env bash
# Installs every Debian 12 package vpced needs to build and test; idempotent (installs only what is missing).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config
  libboost-dev libldns-dev libtomlplusplus-dev nlohmann-json3-dev libc-ares-dev catch2 libcli11-dev
  libssl-dev                  # HMAC for TSIG (dns/tsig.cpp)
  # test peers and checkers
  bind9-dnsutils bind9-utils knot-dnsutils knot-dnssecutils ldnsutils
  nsd unbound                 # upstream for forwarding tests, resolver in front of vpced (tests/integration)
  knot                        # knotd: a secondary following vpced (tests/integration/transfer)
  bind9                       # named: the BIND secondary of docs/secondaries.md (its service is disabled below)
  python3-prometheus-client   # parses /metrics in the admin API tests
  curl                        # the README tour
  haproxy                     # PROXY v2 receiver behind the relay (accept-proxy)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Debian's bind9 package enables and may start its own `named` service (unit named.service, alias bind9). The
# tests start named themselves, in the foreground on free ports: stop and disable that service, by its name.
for p in "${missing[@]}"; do
  if [ "$p" == "bind9" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    "${sudo_cmd[@]}" systemctl disable --now named.service || echo "install-deps: could not stop named.service" >&2
  fi
done
