#!/usr/bin/env python3
"""DNS-over-TCP connection cap (design §5, RFC 7766 §6.2.2): one worker thread holds at most CAP connections.
Opens CAP + EXTRA idle connections; the extra ones must be closed by the server at once while UDP keeps being
answered; a new TCP query fails while the cap is full and is answered once some idle connections close; the
rest are closed by the idle timeout. Prints FAIL lines and "CHECKS n"."""
import socket
import sys
import time

import dnsprobe
from dnsprobe import DnsProbe, check, closed_by_server

port, cap, extra, idle_s = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
apex = sys.argv[5]
dns = DnsProbe(port, apex)

start = time.monotonic()
conns = []
for i in range(cap + extra):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    conns.append(s)
    if i % 64 == 0:
        time.sleep(0.01)  # let the single worker accept as we go; the order of acceptance stays ours
closed = closed_by_server(conns, 2.0)
held = [c for c in conns if c not in closed]
elapsed = time.monotonic() - start
check(elapsed < idle_s - 1, "opening the connections took %.1f s, too close to the idle timeout" % elapsed)
check(len(closed) == extra, "connections over the cap closed by the server: %d, expected %d" % (len(closed), extra))
check(len(held) == cap, "connections held: %d, expected the cap %d" % (len(held), cap))
check(dns.udp_answered(), "UDP query answered while the TCP cap is full")
check(not dns.tcp_answered(timeout=1.0), "a new TCP query is refused (closed) while the cap is full")

# Free a few: a new TCP connection is accepted again.
for c in held[:10]:
    c.close()
held = held[10:]
ok = False
for _ in range(20):
    if dns.tcp_answered():
        ok = True
        break
    time.sleep(0.1)
check(ok, "TCP query answered after 10 idle connections closed")
check(dns.udp_answered(), "UDP still answered")

# The rest are idle: the server closes them within the idle timeout (plus slack), freeing the cap.
closed = closed_by_server(held, idle_s + 3)
check(len(closed) == len(held), "idle connections closed by the idle timeout: %d of %d" % (len(closed), len(held)))
for c in conns:
    c.close()
check(dns.tcp_answered(), "TCP query answered after the idle timeout")
print("CHECKS", dnsprobe.checks)
