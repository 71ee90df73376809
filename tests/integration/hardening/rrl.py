#!/usr/bin/env python3
"""Response rate limiting (server.rrl, docs/dns.md) against a running vpced: bursts of UDP queries from one
127.x source, counted by outcome (answered, slipped = TC=1 with no records, dropped = no answer), and the
/metrics counters, which must move by exactly what was dropped and slipped. Another /24 and TCP are never
limited; each phase reloads a new [server.rrl] (rate 0 = off). Prints FAIL lines and "CHECKS n".
usage: rrl.py PORT ADMIN CONF APEX REPORT (measured numbers are appended to REPORT)"""
import math
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request

port, admin, conf, apex, report = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
checks = 0
# Sources are 127.40-43.x: outside every VPC's dns_clients (the public view); each phase limits a /24 of its own
# so that no phase waits for another's bucket to refill.


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        print("FAIL:", what)
    return ok


def query(qid, name=apex, qtype=6):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def metric(name):
    with urllib.request.urlopen("http://%s/metrics" % admin, timeout=10) as r:
        text = r.read().decode()
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    if not m:
        raise SystemExit("no %s in /metrics" % name)
    return int(float(m.group(1)))


def counters():
    return metric("vpced_rrl_dropped_total"), metric("vpced_rrl_slipped_total")


def set_rrl(block):
    """Replaces the [server.rrl] table at the end of the config and reloads; the reload must succeed."""
    text = open(conf).read()
    text = text.split("\n[server.rrl]\n")[0].rstrip("\n") + "\n"
    if block:
        text += "\n[server.rrl]\n" + block + "\n"
    open(conf, "w").write(text)
    req = urllib.request.Request("http://%s/v1/reload" % admin, method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read().decode()
    if '"ok": true' not in body:
        raise SystemExit("reload failed: " + body)


def burst(sources, tcp_source=None, tcp_count=0):
    """Sends the queries of every (source, count) in `sources` back to back, one socket per source, then (when
    asked) `tcp_count` queries over TCP from `tcp_source` while the UDP replies wait, then collects the UDP
    replies until 1 s passes without one (at most 10 s). Returns ({source: (answered, slipped, other)},
    seconds from the first send to the last UDP reply, full TCP answers)."""
    socks = []
    qid = 1
    t0 = time.monotonic()
    for source, count in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((source, 0))
        packets = {qid + i: query(qid + i) for i in range(count)}
        qid += count
        for q in packets.values():
            s.sendto(q, ("127.0.0.1", port))
        socks.append((source, s, packets))
    tcp_full = tcp_queries(tcp_source, tcp_count) if tcp_source else 0
    result = {}
    last = t0
    for source, s, packets in socks:
        answered = slipped = other = 0
        seen = set()
        s.settimeout(1.0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                data, _ = s.recvfrom(4096)
            except socket.timeout:
                break
            last = max(last, time.monotonic())
            rid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", data[:12])
            if rid not in packets or rid in seen:
                other += 1
                continue
            seen.add(rid)
            if flags & 0x0200:  # TC: the slip answer is exactly header + question, no records
                ok = flags & 0x8000 and qd == 1 and an == ns == ar == 0 and data[12:] == packets[rid][12:]
                slipped += 1 if ok else 0
                other += 0 if ok else 1
            elif flags & 0x8000 and (flags & 0x0F) == 0 and an >= 1:
                answered += 1
            else:
                other += 1
        s.close()
        result[source] = (answered, slipped, other)
    return result, last - t0, tcp_full


def tcp_queries(source, count):
    """`count` pipelined queries over one TCP connection from `source`; how many full answers (no TC) came."""
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    for i in range(count):
        q = query(5000 + i)
        s.sendall(struct.pack(">H", len(q)) + q)
    full = 0
    buf = b""
    try:
        while full < count:
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("closed")
                buf += chunk
            n = struct.unpack(">H", buf[:2])[0]
            msg, buf = buf[2:2 + n], buf[2 + n:]
            flags, an = struct.unpack(">H", msg[2:4])[0], struct.unpack(">H", msg[6:8])[0]
            if not flags & 0x0200 and an >= 1:
                full += 1
    except OSError:
        pass
    s.close()
    return full


def limited_phase(rate, slip, source, count, also=(), tcp_count=0):
    """A burst of `count` from `source` (and the smaller bursts `also`, (source, count) pairs sent right after,
    and `tcp_count` TCP queries from `source` while limited): about `rate` answers, the rest slipped every
    `slip`-th or dropped, and the RRL counters move by exactly the slipped and dropped numbers seen."""
    d0, s0 = counters()
    res, elapsed, tcp_full = burst([(source, count)] + list(also), source if tcp_count else None, tcp_count)
    d1, s1 = counters()
    sent = count + sum(n for _, n in also)
    answered = sum(r[0] for r in res.values())
    slipped = sum(r[1] for r in res.values())
    other = sum(r[2] for r in res.values())
    dropped = sent - answered - slipped - other
    # GCRA: `rate` at once plus `rate` per second of the burst's duration (the server's clock runs inside it).
    most = rate + math.ceil(rate * elapsed) + 1
    label = "rate %d slip %d, burst of %d from %s" % (rate, slip, count, source)
    # Every source of the burst's /24 shares one bucket; the workers (one per source port, SO_REUSEPORT) serve
    # the sockets concurrently, so a later neighbour may take some of the `rate` answers.
    net = source.rsplit(".", 1)[0] + "."
    a = sum(r[0] for src, r in res.items() if src.startswith(net))
    check(rate <= a <= most, "%s: %d answered in %s0/24, expected %d..%d (burst took %.3f s)"
          % (label, a, net, rate, most, elapsed))
    check(other == 0, "%s: %d replies neither an answer nor a well-formed slip" % (label, other))
    limited = count - res[source][0]
    if slip == 0:
        check(slipped == 0, "%s: %d slipped, expected none" % (label, slipped))
    else:
        # The slip counter is the worker's: every slip-th limited response, give or take the phase it starts in.
        expect = limited // slip
        got = res[source][1]
        check(abs(got - expect) <= 1, "%s: %d slipped of %d limited, expected about %d" % (label, got, limited, expect))
    check(d1 - d0 == dropped, "%s: vpced_rrl_dropped_total moved by %d, %d were not answered" % (label, d1 - d0, dropped))
    check(s1 - s0 == slipped, "%s: vpced_rrl_slipped_total moved by %d, %d slipped" % (label, s1 - s0, slipped))
    if tcp_count:
        check(tcp_full == tcp_count, "%s: TCP from the limited prefix: %d of %d answered in full" % (label, tcp_full, tcp_count))
    with open(report, "a") as f:
        f.write("measured: %s%s: %d answered, %d slipped, %d dropped in %.3f s; all sources: %d sent, %d answered, "
                "%d slipped, %d dropped; vpced_rrl_dropped_total +%d, vpced_rrl_slipped_total +%d\n"
                % (label, " (+ %s)" % ", ".join("%d from %s" % (n, src) for src, n in also) if also else "",
                   res[source][0], res[source][1], count - sum(res[source]), elapsed, sent, answered, slipped,
                   dropped, d1 - d0, s1 - s0))
    return res


# 1. RRL off (the default): nothing is limited, the counters stay at zero.
res, _, _ = burst([("127.40.1.10", 200)])
check(res["127.40.1.10"][0] == 200, "RRL off: %d of 200 answered" % res["127.40.1.10"][0])
check(counters() == (0, 0), "RRL off: counters %s, expected (0, 0)" % (counters(),))

# 2. rate 10, slip 2. Right after the burst, another host of the same /24 shares the empty bucket, the next
#    /24 has its own, and TCP from the limited source is answered in full.
set_rrl("rate = 10\nslip = 2")
res = limited_phase(10, 2, "127.40.1.10", 100, also=[("127.40.1.77", 10), ("127.40.2.10", 10)], tcp_count=30)
# The two hosts of 127.40.1.0/24 share one bucket: together they get fewer answers than two buckets would give
# (2 × rate), whichever worker served whom first (the sockets are served concurrently).
both = res["127.40.1.10"][0] + res["127.40.1.77"][0]
check(both < 2 * 10, "same /24: %d answers for two hosts, expected fewer than 20 (one shared bucket) %s"
      % (both, (res["127.40.1.10"], res["127.40.1.77"])))
check(res["127.40.2.10"] == (10, 0, 0), "next /24: %s (answered, slipped, other), expected all 10 answered" % (res["127.40.2.10"],))
# The bucket refills: within a bounded wait the prefix is answered again.
ok = False
for _ in range(30):
    r, _, _ = burst([("127.40.1.10", 1)])
    if r["127.40.1.10"][0] == 1:
        ok = True
        break
    time.sleep(0.1)  # poll interval
check(ok, "the limited prefix is answered again once its bucket refills")

# 3. A reload changes the settings: rate 5, slip 1 (every limited answer is TC).
set_rrl("rate = 5\nslip = 1")
res = limited_phase(5, 1, "127.41.1.10", 60)
check(res["127.41.1.10"][0] + res["127.41.1.10"][1] == 60, "slip 1: some were dropped: %s" % (res["127.41.1.10"],))

# A real client behind a limited prefix: with rate 1 a /24 has one answer a second; one query takes it, and a
# dig from the same /24 in the next second is slipped, retries over TCP and is answered.
set_rrl("rate = 1\nslip = 1")
d0, s0 = counters()
first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
first.bind(("127.44.1.10", 0))
first.settimeout(2)
first.sendto(query(42), ("127.0.0.1", port))
try:
    reply = first.recv(4096)
except socket.timeout:
    reply = b""
first.close()
check(len(reply) > 12 and reply[:2] == b"\x00\x2a" and not reply[2] & 0x02,
      "rate 1: the first query of the /24 is answered in full: %r" % reply[:16])
out = subprocess.run(["dig", "-b", "127.44.1.11", "+time=2", "+tries=1", "@127.0.0.1", "-p", str(port), apex, "SOA"],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout  # "Truncated" is on stderr
check("Truncated, retrying in TCP mode" in out and "status: NOERROR" in out and "ANSWER: 1" in out,
      "dig from the limited prefix retries over TCP and is answered: " + out.replace("\n", " | ")[-400:])
check(counters() == (d0, s0 + 1), "rate 1: dig's slipped query moved the counters by %s"
      % ((counters()[0] - d0, counters()[1] - s0),))

# 4. slip 0: every limited response is dropped.
set_rrl("rate = 5\nslip = 0")
limited_phase(5, 0, "127.42.1.10", 60)

# 5. exempt and a /32 prefix: the exempt source is never limited; other hosts of its /24 have their own bucket.
set_rrl('rate = 5\nslip = 2\nipv4_prefix = 32\nexempt = ["127.43.1.10/32"]')
res, _, _ = burst([("127.43.1.10", 100), ("127.43.1.11", 5), ("127.43.1.12", 5)])
check(res["127.43.1.10"][0] == 100, "exempt source: %d of 100 answered" % res["127.43.1.10"][0])
check(res["127.43.1.11"][0] == 5 and res["127.43.1.12"][0] == 5, "/32 buckets: %s" % (res,))

# 6. Off again by reload.
set_rrl("rate = 0")
d0, s0 = counters()
res, _, _ = burst([("127.40.1.10", 200)])
check(res["127.40.1.10"][0] == 200, "RRL off again after reload: %d of 200 answered" % res["127.40.1.10"][0])
check(counters() == (d0, s0), "RRL off: counters moved")

print("CHECKS", checks)
