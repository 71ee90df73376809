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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/integration/dnswire.py
from dnswire import parse as dnswire_parse, query

MAX_QUERIES = 200000
MAX_SECONDS = 60


def build(qid, name):
    return query(qid, name, 1, flags=0x0000, edns=1232)


def parse(p, qid):
    rid, flags, _, addrs, _ = dnswire_parse(p)
    if rid != qid:
        return None
    rcode = flags & 0x0F
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
