"""What the python query clients of the integration tests share (fastpath/burst.py, fastpath/tcp_pipeline.py,
reload/load.py): the check counter (lib.sh py_checks reads "FAIL: ..." lines and
a final "CHECKS n"), the zone file as a dict of A sets, and a small DNS message builder and parser."""
import socket, struct


class Checks:
    def __init__(self):
        self.count = 0

    def fail(self, msg):
        print("FAIL: " + msg)

    def check(self, cond, msg):
        self.count += 1
        if not cond:
            self.fail(msg)

    def done(self):
        print("CHECKS", self.count)


def load_zone(zone_file):
    """(name → set of A addresses, apex) from `vpced zone` output."""
    zone, apex = {}, None
    for line in open(zone_file):
        f = line.split()
        if len(f) >= 5 and f[2] == "IN":
            if f[3] == "SOA":
                apex = f[0]
            if f[3] == "A":
                zone.setdefault(f[0].lower(), set()).add(f[4])
    return zone, apex


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qid, name, qtype, flags=0x0100, edns=None):
    q = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0) + wire_name(name) + struct.pack(">HH", qtype, 1)
    if edns:
        q += b"\0" + struct.pack(">HHIH", 41, edns, 0, 0)
    return q


def skip_name(p, i):
    while True:
        n = p[i]
        if n & 0xC0 == 0xC0:
            return i + 2
        if n == 0:
            return i + 1
        i += 1 + n


def parse(p):
    """(id, flags, answer count, A addresses, answer record types)"""
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", p[:12])
    i = 12
    for _ in range(qd):
        i = skip_name(p, i) + 4
    addrs, types = set(), []
    for _ in range(an):
        i = skip_name(p, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", p[i:i + 10])
        i += 10
        if rtype == 1:
            addrs.add(socket.inet_ntoa(p[i:i + 4]))
        types.append(rtype)
        i += rdlen
    return qid, flags, an, addrs, types
