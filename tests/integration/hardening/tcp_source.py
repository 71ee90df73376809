#!/usr/bin/env python3
"""DNS-over-TCP connections per source (server.tcp_max_connections_per_source, counted over all workers).
Opens LIMIT + EXTRA idle connections from one source: exactly LIMIT stay open, the others are closed at once and
counted in vpced_dns_tcp_refused_total{reason="per_source"}; another source still gets TCP answers, UDP is
answered, and connections closed by the client make room again. Prints FAIL lines and "CHECKS n"."""
import socket
import sys
import time

import dnsprobe
from dnsprobe import DnsProbe, check, closed_by_server

port, admin, apex = int(sys.argv[1]), sys.argv[2], sys.argv[3]
limit, extra, idle_s = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
SOURCE, OTHER = "127.50.0.1", "127.50.0.2"
dns = DnsProbe(port, apex, admin)


def refused():
    return dns.metric("vpced_dns_tcp_refused_total", '{reason="per_source"}')


def open_tcp():
    return dns.metric("vpced_dns_tcp_connections")


def wait_open_tcp(n, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if open_tcp() == n:
            return True
        time.sleep(0.05)  # poll interval
    return False


def connect(source):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


r0 = refused()
check(open_tcp() == 0, "no TCP connection open before the test")
start = time.monotonic()
conns = [connect(SOURCE) for _ in range(limit + extra)]
closed = closed_by_server(conns, 1.5)
held = [c for c in conns if c not in closed]
check(len(closed) == extra, "connections over the per-source limit closed at once: %d, expected %d" % (len(closed), extra))
check(len(held) == limit, "connections held from %s: %d, expected the limit %d" % (SOURCE, len(held), limit))
check(refused() - r0 == extra, "vpced_dns_tcp_refused_total{reason=\"per_source\"} moved by %d, expected %d" % (refused() - r0, extra))
check(dns.metric("vpced_dns_tcp_refused_total", '{reason="total"}') == 0, "no connection refused by the per-worker cap")
check(dns.tcp_answered(OTHER), "a TCP query from another source (%s) is answered while %s is at its limit" % (OTHER, SOURCE))
check(dns.udp_answered(SOURCE), "UDP from %s answered while its TCP limit is full" % SOURCE)
check(not dns.tcp_answered(SOURCE, 1.0), "a new TCP query from %s is refused (closed) while at the limit" % SOURCE)
check(refused() - r0 == extra + 1, "the refused query counted: +%d, expected +%d" % (refused() - r0, extra + 1))

# Closing 5 makes room for exactly 5 again.
for c in held[:5]:
    c.close()
held = held[5:]
check(wait_open_tcp(limit - 5), "vpced sees the 5 closed connections (open: %d, expected %d)" % (open_tcp(), limit - 5))
check(dns.tcp_answered(SOURCE), "a TCP query from %s answered after 5 of its connections closed" % SOURCE)
check(wait_open_tcp(limit - 5), "the answered query's connection is released")
more = [connect(SOURCE) for _ in range(5)]
check(len(closed_by_server(more, 1.0)) == 0, "5 new connections from %s held again" % SOURCE)
over = connect(SOURCE)
check(len(closed_by_server([over], 1.0)) == 1, "one more beyond the limit closed at once")
check(refused() - r0 == extra + 2, "vpced_dns_tcp_refused_total{reason=\"per_source\"} +%d in all, expected +%d" % (refused() - r0, extra + 2))
elapsed = time.monotonic() - start
check(elapsed < idle_s - 1, "the checks took %.1f s, too close to the idle timeout" % elapsed)
for c in held + more + [over]:
    c.close()
check(wait_open_tcp(0), "every connection released at the end (open: %d)" % open_tcp())
print("CHECKS", dnsprobe.checks)
