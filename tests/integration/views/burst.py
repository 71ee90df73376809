"""A burst of concurrent UDP queries from one source, half for the private name and half for www.example.com,
each with its own ID and a 0x20-mixed-case name; every reply must carry its query's ID and question byte for
byte, NOERROR, and exactly the expected A set (authoritative and forwarded answers interleaved).

usage: burst.py PORT SOURCE EXPECTED-PRIVATE(comma-separated) EXPECTED-WWW
Prints FAIL: lines and a final CHECKS n line (lib.sh py_checks)."""
import random
import select
import socket
import struct
import sys
import time

port, source = int(sys.argv[1]), sys.argv[2]
want = {"api.orders.example.com": sorted(sys.argv[3].split(",")), "www.example.com": sorted(sys.argv[4].split(","))}
N = 60
checks = 0
fails = []


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        fails.append(what)


def fail(what):
    check(False, what)


def encode(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def mixed(name):
    return "".join(c.upper() if c.isalpha() and random.random() < 0.5 else c for c in name)


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((source, 0))
ids = random.sample(range(1, 65536), N)
sent = {}
for i, qid in enumerate(ids):
    base = "api.orders.example.com" if i % 2 == 0 else "www.example.com"
    qname = encode(mixed(base))
    question = qname + struct.pack("!HH", 1, 1)
    msg = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + question
    sent[qid] = (base, question)
    sock.sendto(msg, ("127.0.0.1", port))

got = {}
deadline = time.time() + 8
while len(got) < N and time.time() < deadline:
    r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.time()))
    if not r:
        break
    data = sock.recv(4096)
    qid = struct.unpack("!H", data[:2])[0]
    if qid not in sent:
        fail(f"reply with an ID nobody asked: {qid}")
        continue
    if qid in got:
        fail(f"two replies for ID {qid}")
        continue
    got[qid] = data

check(len(got) == N, f"replies: {len(got)} of {N} queries answered within 8 s")
for qid, data in got.items():
    base, question = sent[qid]
    flags, qd, an = struct.unpack("!HHH", data[2:8])
    check(flags & 0x8000, f"ID {qid} ({base}): QR set")
    check(flags & 0xF == 0, f"ID {qid} ({base}): rcode {flags & 0xF}, want NOERROR")
    check(qd == 1 and data[12:12 + len(question)].lower() == question.lower(),
          f"ID {qid} ({base}): question echoed")
    check(data[12:12 + len(question)] == question, f"ID {qid} ({base}): question case preserved byte for byte")
    # answers: walk past the question, read A records (owners are compressed pointers or names)
    off = 12 + len(question)
    addrs = []
    try:
        for _ in range(an):
            while True:
                b = data[off]
                if b == 0:
                    off += 1
                    break
                if b & 0xC0 == 0xC0:
                    off += 2
                    break
                off += 1 + b
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", data[off:off + 10])
            off += 10
            if rtype == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(data[off:off + 4]))
            off += rdlen
    except (IndexError, struct.error):
        fail(f"ID {qid} ({base}): answer section does not parse")
        continue
    check(sorted(addrs) == want[base], f"ID {qid} ({base}) from {source}: A {sorted(addrs)}, want {want[base]}")

for f in fails:
    print("FAIL: burst from " + source + ": " + f)
print("CHECKS", checks)
