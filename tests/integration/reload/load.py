"""Bounded query load for the reload test: sends A queries over UDP (and every 8th over one TCP connection)
until STOP_FILE exists, MAX_QUERIES were sent or MAX_SECONDS passed, checking every answer against the
allowed answer sets. Prints 'sent N ok N wrong N timeouts N' and 'FAIL: ...' lines for the first problems.

usage: load.py PORT STOP_FILE EXPECT_JSON
EXPECT_JSON: {"name": [["NXDOMAIN"] or sorted address list, ...alternatives]}"""
import json
import os
import random
import socket
import struct
import sys
import time

MAX_QUERIES = 200000
MAX_SECONDS = 60


def build(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0000, 1, 0, 0, 1)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", 1, 1)
    q += b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0)  # OPT
    return q


def skip_name(p, i):
    while True:
        n = p[i]
        if n & 0xC0 == 0xC0:
            return i + 2
        if n == 0:
            return i + 1
        i += 1 + n


def parse(p, qid):
    rid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", p[:12])
    if rid != qid:
        return None
    rcode = flags & 0x0F
    i = skip_name(p, 12) + 4
    addrs = []
    for _ in range(an):
        i = skip_name(p, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", p[i:i + 10])
        i += 10
        if rtype == 1:
            addrs.append(socket.inet_ntoa(p[i:i + 4]))
        i += rdlen
    if rcode == 3:
        return ["NXDOMAIN"]
    if rcode != 0:
        return ["RCODE%d" % rcode]
    return sorted(addrs)


def main():
    port, stop_file, expect_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    expect = json.load(open(expect_file))
    names = sorted(expect)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(1.0)
    tcp = socket.create_connection(("127.0.0.1", port), timeout=2.0)
    sent = ok = wrong = timeouts = 0
    failures = []
    start = time.monotonic()
    qid = random.randrange(65536)
    while sent < MAX_QUERIES and time.monotonic() - start < MAX_SECONDS and not os.path.exists(stop_file):
        name = names[sent % len(names)]
        qid = (qid + 1) & 0xFFFF
        q = build(qid, name)
        sent += 1
        try:
            if sent % 8 == 0:
                tcp.sendall(struct.pack(">H", len(q)) + q)
                hdr = b""
                while len(hdr) < 2:
                    chunk = tcp.recv(2 - len(hdr))
                    if not chunk:
                        raise socket.timeout("tcp closed")
                    hdr += chunk
                (n,) = struct.unpack(">H", hdr)
                p = b""
                while len(p) < n:
                    chunk = tcp.recv(n - len(p))
                    if not chunk:
                        raise socket.timeout("tcp closed")
                    p += chunk
            else:
                udp.sendto(q, ("127.0.0.1", port))
                while True:
                    p, _ = udp.recvfrom(4096)
                    if struct.unpack(">H", p[:2])[0] == qid:
                        break
        except (socket.timeout, ConnectionError) as e:
            timeouts += 1
            if len(failures) < 5:
                failures.append("timeout on %s (%s)" % (name, e))
            if sent % 8 == 0:
                tcp = socket.create_connection(("127.0.0.1", port), timeout=2.0)
            continue
        got = parse(p, qid)
        if got is not None and got in expect[name]:
            ok += 1
        else:
            wrong += 1
            if len(failures) < 5:
                failures.append("wrong answer for %s: %s, allowed %s" % (name, got, expect[name]))
    for f in failures:
        print("FAIL: " + f)
    print("sent %d ok %d wrong %d timeouts %d seconds %.1f" % (sent, ok, wrong, timeouts, time.monotonic() - start))


main()
