#!/usr/bin/env python3
"""DNS-over-TCP slow readers: clients with a tiny receive buffer pipeline thousands of queries and never read.
vpced must stop reading their queries once its bounded output cannot be written (back-pressure), close each
connection within the timeout of its last complete write (vpced_dns_tcp_timeouts_total{reason="write"}),
keep answering other TCP and UDP clients at once, and not grow. Prints FAIL lines and "CHECKS n"; measured
numbers go to SUMMARY_FILE."""
import re
import select
import socket
import struct
import sys
import time

import dnsprobe
from dnsprobe import DnsProbe, check

port, admin, apex, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
idle_s, readers, summary_file = float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
dns = DnsProbe(port, apex, admin)
QUERIES = 50000  # per reader, ~2.3 MB: far more than the socket buffers on both sides hold


def rss_kib():
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def udp_latency():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    t = time.monotonic()
    try:
        s.sendto(dns.query(7), ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
        return time.monotonic() - t if data[:2] == b"\x00\x07" else None
    except OSError:
        return None
    finally:
        s.close()


def tcp_latency():
    s = socket.socket()
    s.settimeout(2)
    t = time.monotonic()
    try:
        s.connect(("127.0.0.1", port))
        q = dns.query(9)
        s.sendall(struct.pack(">H", len(q)) + q)
        head = s.recv(2)
        return time.monotonic() - t if len(head) == 2 else None
    except OSError:
        return None
    finally:
        s.close()


def reset_by_server(s):
    """Whether the peer has closed/reset the connection; the unread answers are left alone."""
    p = select.poll()
    p.register(s, select.POLLRDHUP)  # a FIN; a reset shows as POLLERR/POLLHUP, always reported
    return any(ev & (select.POLLERR | select.POLLHUP | select.POLLRDHUP) for _, ev in p.poll(0))


timeouts0 = dns.metric("vpced_dns_tcp_timeouts_total", '{reason="write"}')
rss0 = rss_kib()
blob = b"".join(struct.pack(">H", len(q)) + q for q in (dns.query(i) for i in range(QUERIES)))
per_query = len(blob) // QUERIES
conns = []
for _ in range(readers):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the advertised window stays small
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    conns.append({"sock": s, "sent": 0, "connected": time.monotonic(), "progress": time.monotonic(), "closed": None})

# Send until vpced stops taking queries: no progress on any connection for 1 s.
while True:
    now = time.monotonic()
    for c in conns:
        try:
            while c["sent"] < len(blob):
                n = c["sock"].send(blob[c["sent"]:c["sent"] + 65536])
                if n <= 0:
                    break
                c["sent"] += n
                c["progress"] = time.monotonic()
        except BlockingIOError:
            pass
        except OSError:
            c["closed"] = c["closed"] or time.monotonic()
    if all(now - c["progress"] > 1.0 or c["sent"] >= len(blob) for c in conns):
        break
    time.sleep(0.02)  # pacing of the send loop
stalled_at = max(c["progress"] for c in conns)
check(all(c["sent"] < len(blob) for c in conns), "vpced stopped reading the queries of every slow reader")
check(all(c["closed"] is None for c in conns), "no slow reader closed before the stall")
sent_queries = [c["sent"] // per_query for c in conns]
check(min(sent_queries) >= 1000, "each slow reader pipelined thousands of queries before the stall: %s" % sent_queries)

# While they stall: other clients are answered at once, and vpced does not grow.
tcp_l, udp_l = tcp_latency(), udp_latency()
check(tcp_l is not None and tcp_l < 0.5, "another client's TCP query answered at once during the stall: %s" % tcp_l)
check(udp_l is not None and udp_l < 0.5, "a UDP query answered at once during the stall: %s" % udp_l)
rss_stall = rss_kib()
check(rss_stall - rss0 < 4096, "vpced RSS grew by %d KiB during the stall (limit 4096)" % (rss_stall - rss0))

# vpced closes each of them within the timeout (+ slack) of the stall.
deadline = stalled_at + idle_s + 3
while time.monotonic() < deadline and any(c["closed"] is None for c in conns):
    for c in conns:
        if c["closed"] is None and reset_by_server(c["sock"]):
            c["closed"] = time.monotonic()
    time.sleep(0.05)  # poll interval
closed = [c for c in conns if c["closed"] is not None]
check(len(closed) == readers, "slow readers closed by vpced within %.0f s of the stall: %d of %d" % (idle_s + 3, len(closed), readers))
after_stall = [c["closed"] - stalled_at for c in closed]
after_connect = [c["closed"] - c["connected"] for c in closed]
# The timer restarts only after a complete answer, so no reader is closed before `idle_s` after it connected.
check(all(t >= idle_s - 0.2 for t in after_connect), "closed no earlier than the timeout after connecting: %s" % after_connect)
timeouts = dns.metric("vpced_dns_tcp_timeouts_total", '{reason="write"}') - timeouts0
check(timeouts == readers, "vpced_dns_tcp_timeouts_total{reason=\"write\"} moved by %d, expected %d" % (timeouts, readers))
check(dns.metric("vpced_dns_tcp_connections") == 0, "no TCP connection left open")
tcp_after, udp_after = tcp_latency(), udp_latency()
check(tcp_after is not None and udp_after is not None, "TCP and UDP answered after the slow readers are gone")
rss_end = rss_kib()
for c in conns:
    c["sock"].close()
with open(summary_file, "w") as f:
    f.write("%d slow readers pipelined %s queries (%d bytes each) before vpced stopped reading; closed %.1f-%.1f s after "
            "the stall (%.1f-%.1f s after connecting), write timeouts +%d; during the stall another client's TCP answer "
            "took %.1f ms and a UDP answer %.1f ms; VmRSS %d KiB before, %d KiB during the stall (+%d), %d KiB after\n"
            % (readers, sent_queries, per_query, min(after_stall), max(after_stall), min(after_connect), max(after_connect),
               timeouts, (tcp_l or 0) * 1000, (udp_l or 0) * 1000, rss0, rss_stall, rss_stall - rss0, rss_end))
print("CHECKS", dnsprobe.checks)
