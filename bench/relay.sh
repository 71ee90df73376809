#!/usr/bin/env bash
# Relay benchmark (issue 7 part 4): not written yet. Planned: bulk throughput through the relay vs haproxy
# `mode tcp` vs direct loopback (iperf3), and new connections/s with PROXY v2 vs haproxy send-proxy-v2,
# alternated, medians. The daemon does not run the relay yet (tests/integration/relay uses relay_driver).
echo "bench/relay.sh: not implemented yet; see docs/performance.md (Relay)" >&2
exit 1
