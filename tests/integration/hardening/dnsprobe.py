"""Shared helpers of the hardening scripts that talk DNS to a vpced under test (tcp_cap, tcp_source,
tcp_slow_read): the check counter behind the "FAIL: ..." / "CHECKS n" output, the apex SOA query, UDP and TCP
probes from a chosen source address, /metrics samples, and the wait for connections the server closes."""
import re
import select
import socket
import struct
import time
import urllib.request

checks = 0


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        print("FAIL:", what)


def closed_by_server(conns, wait):
    """The connections that see EOF (or a reset) within `wait` seconds."""
    closed = set()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and len(closed) < len(conns):
        open_ = [c for c in conns if c not in closed]
        ready, _, _ = select.select(open_, [], [], max(0.0, deadline - time.monotonic()))
        for c in ready:
            try:
                if c.recv(1) == b"":
                    closed.add(c)
            except OSError:
                closed.add(c)
    return closed


class DnsProbe:
    """vpced at 127.0.0.1:`port` serving `apex`; `admin` (host:port) for /metrics."""

    def __init__(self, port, apex, admin=None):
        self.port, self.apex, self.admin = port, apex, admin

    def query(self, qid):
        """The apex SOA query with ID `qid` (mod 2^16), no EDNS."""
        q = struct.pack(">HHHHHH", qid & 0xFFFF, 0, 1, 0, 0, 0)
        for label in self.apex.split("."):
            q += bytes([len(label)]) + label.encode()
        return q + b"\0" + struct.pack(">HH", 6, 1)

    def udp_answered(self, source=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if source:
            s.bind((source, 0))
        s.settimeout(2)
        try:
            s.sendto(self.query(7), ("127.0.0.1", self.port))
            data, _ = s.recvfrom(4096)
            return data[:2] == b"\x00\x07" and data[3] & 0x0F == 0
        except OSError:
            return False
        finally:
            s.close()

    def tcp_answered(self, source=None, timeout=2.0):
        s = socket.socket()
        s.settimeout(timeout)
        try:
            if source:
                s.bind((source, 0))
            s.connect(("127.0.0.1", self.port))
            q = self.query(9)
            s.sendall(struct.pack(">H", len(q)) + q)
            head = s.recv(2)
            return len(head) == 2
        except OSError:
            return False
        finally:
            s.close()

    def metric(self, name, labels=""):
        with urllib.request.urlopen("http://%s/metrics" % self.admin, timeout=10) as r:
            text = r.read().decode()
        m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
        if not m:
            raise SystemExit("no %s%s in /metrics" % (name, labels))
        return int(float(m.group(1)))
