#!/usr/bin/env python3
"""A dnsperf query file from a zone file (bench/dns.sh): 80 % existing A, 10 % AAAA of existing names
(NODATA), 10 % names under the apex that do not exist (NXDOMAIN), shuffled with a fixed seed.
usage: make_queries.py ZONE_FILE OUT [COUNT]"""
import random, sys

zone, out = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
rng = random.Random(7)
names, apex = [], None
for line in open(zone):
    f = line.split()
    if len(f) >= 5 and f[2] == "IN":
        if f[3] == "SOA":
            apex = f[0]
        elif f[3] == "A" and f[0].startswith("vpce-"):
            names.append(f[0])
names = sorted(set(names))
lines = []
for i in range(count):
    r = i % 10
    if r < 8:
        lines.append(f"{rng.choice(names)} A")
    elif r == 8:
        lines.append(f"{rng.choice(names)} AAAA")
    else:
        lines.append(f"nx{rng.getrandbits(40):x}.{apex} A")
rng.shuffle(lines)
open(out, "w").write("\n".join(lines) + "\n")
print(f"{len(names)} names, {count} queries", file=sys.stderr)
