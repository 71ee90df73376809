"""Asks every private DNS name of the generated config from one source inside every dns_clients prefix of
every VPC (and from sources in no VPC), over raw UDP sockets bound to those sources, and checks that only
the owning VPC ever sees private addresses, and sees exactly its own endpoint's ENI addresses.

usage: query.py PORT PLAN.json DESCRIBE.json [SUMMARY-FILE [UNVERIFIED-SERVICES]]
UNVERIFIED-SERVICES (comma-separated config names): services whose private name is not verified, so no VPC
owns a private zone for it.
Prints FAIL: lines (the first 40), a summary line, and a final CHECKS n line (lib.sh py_checks)."""
import json
import random
import select
import socket
import struct
import sys
import time

port = int(sys.argv[1])
plan = json.load(open(sys.argv[2]))
describe = json.load(open(sys.argv[3]))
unverified = set(filter(None, sys.argv[5].split(","))) if len(sys.argv) > 5 else set()
rng = random.Random(7)

checks = 0
fails = []


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        fails.append(what)


# --- what describe says about each endpoint, cross-checked with the plan ---------------------------------
by_name = {}
for e in describe["VpcEndpoints"]:
    name = next(t["Value"] for t in e["Tags"] if t["Key"] == "Name")
    by_name[name] = e
check(len(by_name) == len(plan["endpoints"]), f"describe lists {len(by_name)} endpoints, plan {len(plan['endpoints'])}")
for p in plan["endpoints"]:
    e = by_name.get(p["name"])
    if e is None:
        check(False, f"endpoint {p['name']} missing from describe")
        continue
    check(e["VpcId"] == p["vpc"], f"{p['name']}: VpcId {e['VpcId']}, plan {p['vpc']}")
    check(e["State"] == p["state"], f"{p['name']}: State {e['State']}, plan {p['state']}")
    check(bool(e.get("PrivateDnsEnabled")) == p["private"],
          f"{p['name']}: PrivateDnsEnabled {e.get('PrivateDnsEnabled')}, plan {p['private']}")
for s in describe["ServiceConfigurations"]:
    if s.get("PrivateDnsName"):
        sname = next(t["Value"] for t in s["Tags"] if t["Key"] == "Name")
        want = "pendingVerification" if sname in unverified else "verified"
        check(s["PrivateDnsNameConfiguration"]["State"] == want,
              f"service {s['PrivateDnsName']}: {s['PrivateDnsNameConfiguration']['State']}, want {want}")

addrs = {p["name"]: sorted(n["PrivateIpAddress"] for n in by_name[p["name"]]["NetworkInterfaces"])
         for p in plan["endpoints"] if p["name"] in by_name}
vpc_of_addr = {}
for p in plan["endpoints"]:
    for a in addrs.get(p["name"], []):
        vpc_of_addr[a] = p["vpc"]

# owner[service][vpc] = the endpoint whose private zone the VPC's view holds (independent of describe)
owner = {}
for p in plan["endpoints"]:
    if p["private"] and p["state"] == "available" and p["service"] not in unverified:
        prev = owner.setdefault(p["service"], {}).get(p["vpc"])
        check(prev is None, f"plan: two private endpoints of {p['service']} in {p['vpc']}")
        owner[p["service"]][p["vpc"]] = p["name"]

# --- the queries: (qname, service, kind) ----------------------------------------------------------------
queries = []
for s in plan["services"]:
    n = s["private_dns_name"]
    if not n:
        continue
    if n.startswith("*."):
        d = n[2:]
        queries += [(f"x{rng.randrange(10**6)}.{d}", s["name"], "name"), (f"a.b.{d}", s["name"], "name"),
                    (d, s["name"], "apex")]
    else:
        queries += [(n, s["name"], "name"), (f"nx.{n}", s["name"], "nx")]

sources = []  # (source address, vpc id or None)
for v in plan["vpcs"]:
    for src in v["sources"]:
        sources.append((src, v["id"]))
sources += [("127.0.0.1", None), ("127.251.0.9", None), ("127.99.255.1", None)]


def encode(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def read_name(msg, off):
    labels, jumped, end = [], False, off
    for _ in range(128):
        b = msg[off]
        if b == 0:
            off += 1
            break
        if b & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            jumped = True
            off = ((b & 0x3F) << 8) | msg[off + 1]
            continue
        labels.append(msg[off + 1:off + 1 + b].decode("ascii", "replace"))
        off += 1 + b
    return ".".join(labels).lower(), (end if jumped else off)


def parse(msg):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    sections = []
    for count in (an, ns):
        rrs = []
        for _ in range(count):
            owner_name, off = read_name(msg, off)
            rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            rdata = msg[off:off + rdlen]
            off += rdlen
            rrs.append((owner_name, rtype, socket.inet_ntoa(rdata) if rtype == 1 and rdlen == 4 else None))
        sections.append(rrs)
    return qid, flags, sections[0], sections[1]


RCODE = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}
t0 = time.time()
results = {}  # (src, qname) -> reply bytes


def run_batch(batch):
    socks = {}
    pending = {}  # (sock fileno, qid) -> (src, qname)
    for src, _ in batch:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        socks[s.fileno()] = s
        for qname, _, _ in queries:
            if (src, qname) in results:
                continue
            qid = rng.randrange(65536)
            while (s.fileno(), qid) in pending:
                qid = rng.randrange(65536)
            pending[(s.fileno(), qid)] = (src, qname)
            s.sendto(struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + encode(qname) + struct.pack("!HH", 1, 1),
                     ("127.0.0.1", port))
    deadline = time.time() + 3
    while pending and time.time() < deadline:
        r, _, _ = select.select(list(socks.values()), [], [], max(0.0, deadline - time.time()))
        for s in r:
            data = s.recv(4096)
            key = (s.fileno(), struct.unpack("!H", data[:2])[0])
            if key in pending:
                results[pending.pop(key)] = data
    for s in socks.values():
        s.close()


for attempt in range(2):  # one retry for anything lost; the whole sweep stops after 20 s
    for i in range(0, len(sources), 8):
        if time.time() - t0 > 20:
            break
        run_batch(sources[i:i + 8])
elapsed = time.time() - t0

# --- judge every reply -------------------------------------------------------------------------------------
n_owner = n_other = n_leak = 0
for src, vpc in sources:
    for qname, service, kind in queries:
        reply = results.get((src, qname))
        where = f"{qname} A from {src} ({vpc or 'no VPC'})"
        if reply is None:
            check(False, f"{where}: no reply (2 tries)")
            continue
        try:
            _, flags, answer, authority = parse(reply)
        except (IndexError, struct.error, UnicodeDecodeError):
            check(False, f"{where}: reply does not parse")
            continue
        rcode = RCODE.get(flags & 0xF, str(flags & 0xF))
        got = sorted(a for _, t, a in answer if t == 1)
        own = owner.get(service, {}).get(vpc) if vpc else None
        # the leak property itself: every address answered belongs to the querying VPC's own endpoint
        foreign = [a for a in got if own is None or a not in addrs[own]]
        if foreign:
            n_leak += 1
            check(False, f"LEAK: {where} got {foreign} (endpoints of {sorted({vpc_of_addr.get(a, '?') for a in foreign})})")
        else:
            check(True, "")
        if own is None:
            n_other += 1
            check(rcode == "REFUSED" and not answer, f"{where}: {rcode} {got}, want REFUSED (not an owner)")
            continue
        n_owner += 1
        aa = bool(flags & 0x0400)
        if kind == "name":
            check(rcode == "NOERROR" and got == addrs[own] and aa,
                  f"{where}: {rcode} aa={aa} {got}, want NOERROR aa {addrs[own]} ({own})")
        elif kind == "nx":
            soa = [o for o, t, _ in authority if t == 6]
            zone = qname[3:]
            check(rcode == "NXDOMAIN" and not answer and soa == [zone],
                  f"{where}: {rcode} answers={len(answer)} SOA {soa}, want NXDOMAIN with SOA {zone}")
        else:  # wildcard zone apex: NODATA
            soa = [o for o, t, _ in authority if t == 6]
            check(rcode == "NOERROR" and not answer and soa == [qname],
                  f"{where}: {rcode} answers={len(answer)} SOA {soa}, want NODATA with SOA {qname}")

check(n_owner >= (100 if not unverified else 50), f"only {n_owner} owner (source, name) pairs: the test would be weak")
check(n_other >= 300, f"only {n_other} non-owner (source, name) pairs")
for f in fails[:40]:
    print("FAIL: " + f)
if len(fails) > 40:
    print(f"FAIL: ... and {len(fails) - 40} more failures")
summary = (f"leak{' (unverified: ' + ','.join(sorted(unverified)) + ')' if unverified else ''}: "
           f"{len(sources)} sources x {len(queries)} names = {len(sources) * len(queries)} queries, "
           f"{len(results)} answered in {elapsed:.1f} s; {n_owner} owner pairs, {n_other} non-owner pairs, "
           f"{n_leak} replies with foreign addresses")
print(summary)
if len(sys.argv) > 4:
    open(sys.argv[4], "w").write(summary + "\n")
print("CHECKS", checks)
