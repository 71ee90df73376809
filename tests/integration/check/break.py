#!/usr/bin/python3
"""Writes a copy of a vpced config with several independent mistakes, each on its own line, and prints one
line per mistake, tab-separated:

    LINE  COLUMN  NEEDLE  DESCRIPTION

LINE is the 1-based line of the mistake; COLUMN the 1-based column where the offending token starts (the
key or the value); NEEDLE a string the error message must contain. The mistakes are found from the parsed
config (tomllib), so the script follows edits of conf/example.toml as long as the shapes below exist.

usage: break.py GOOD.toml BROKEN.toml
"""
import re
import sys
import tomllib

good, broken = sys.argv[1], sys.argv[2]
text = open(good).read()
lines = text.split("\n")
cfg = tomllib.loads(text)
out = []


def die(msg):
    sys.exit(f"break.py: {msg}")


def table_ranges(header):
    """(start, end) line index ranges of every [[header]] table, in order."""
    starts = [i for i, l in enumerate(lines) if re.match(r"\s*\[\[\s*" + re.escape(header) + r"\s*\]\]", l)]
    ranges = []
    for s in starts:
        e = s + 1
        while e < len(lines) and not re.match(r"\s*\[\[[^\]]+\]\]\s*(#.*)?$", lines[e]):
            e += 1
        ranges.append((s, e))
    return ranges


def find_key(rng, key):
    for i in range(*rng):
        m = re.match(r"(\s*)" + re.escape(key) + r"\s*=\s*", lines[i])
        if m:
            return i, m
    return None, None


# 1. A typo'd key in the first [[services]] table: acceptance_required -> acceptance_requried.
services = table_ranges("services")
if not services:
    die("no [[services]]")
i, m = find_key(services[0], "acceptance_required")
if i is None:
    die("first [[services]] has no acceptance_required line")
lines[i] = lines[i].replace("acceptance_required", "acceptance_requried", 1)
out.append((i + 1, len(m.group(1)) + 1, "acceptance_requried", "typo'd key acceptance_requried"))

# 2. A bad CIDR: the first [[vpcs]] table's dns_clients gets a /33 prefix.
vpcs = table_ranges("vpcs")
if not vpcs:
    die("no [[vpcs]]")
i, m = find_key(vpcs[0], "dns_clients")
if i is None or not re.search(r'"\d+\.\d+\.\d+\.\d+/\d+"', lines[i]):
    die("first [[vpcs]] has no single-line dns_clients with a CIDR")
col = lines[i].index('"', m.end() - 1) + 1
bad = re.search(r'"(\d+\.\d+\.\d+\.\d+)/\d+"', lines[i]).group(1) + "/33"
lines[i] = re.sub(r'"\d+\.\d+\.\d+\.\d+/\d+"', f'"{bad}"', lines[i], count=1)
out.append((i + 1, col, bad, f"bad CIDR {bad} in vpcs.dns_clients"))

# 3. An endpoint subnet in an AZ its service does not offer: find an endpoint, and a subnet of its VPC
#    whose AZ (in the VPC account's names) maps to an AZ ID missing from the service.
accounts = {a["id"]: a.get("az_names", {}) for a in cfg.get("accounts", [])}
svc_by_name = {s["name"]: s for s in cfg["services"]}
vpc_by_id = {v["id"]: v for v in cfg["vpcs"]}
endpoints = table_ranges("endpoints")
if len(endpoints) != len(cfg.get("endpoints", [])):
    die("cannot match [[endpoints]] headers to endpoints")
used_endpoint = None
for k, ep in enumerate(cfg["endpoints"]):
    svc, vpc = svc_by_name.get(ep["service"]), vpc_by_id.get(ep["vpc"])
    if not svc or not vpc:
        continue
    names = accounts.get(vpc["account"], {})
    extra = [sn["id"] for sn in vpc["subnets"]
             if sn["id"] not in ep["subnets"] and names.get(sn["az"]) not in svc["azs"]]
    i, m = find_key(endpoints[k], "subnets")
    if not extra or i is None or "]" not in lines[i][m.end():]:
        continue
    close = lines[i].index("]", m.end())
    lines[i] = lines[i][:close] + f', "{extra[0]}"' + lines[i][close:]
    out.append((i + 1, close + 3, extra[0],
                f"endpoint {ep['name']}: subnet {extra[0]} in an AZ service {svc['name']} lacks"))
    used_endpoint = k
    break
else:
    die("no endpoint whose VPC has a subnet in an AZ its service lacks")

# 4. An unknown VPC reference in the last endpoint that is not the one above.
k = max(j for j in range(len(endpoints)) if j != used_endpoint)
i, m = find_key(endpoints[k], "vpc")
if i is None:
    die("endpoint has no vpc line")
lines[i] = re.sub(r'=\s*"[^"]*"', '= "vpc-0deadbee"', lines[i], count=1)
out.append((i + 1, m.end() + 1, "vpc-0deadbee", f"endpoint {cfg['endpoints'][k]['name']}: unknown vpc"))

# 5. A bad duration: the first idle_timeout (else any *timeout / interval string).
for key in ("idle_timeout", "connect_timeout", "interval"):
    hit = next(((i, m) for rng in services for i, m in [find_key(rng, key)] if i is not None
                and re.match(r'\s*"', lines[i][m.end():])), None)
    if hit:
        i, m = hit
        lines[i] = lines[i][:m.end()] + re.sub(r'^"[^"]*"', '"5 minutes"', lines[i][m.end():])
        out.append((i + 1, m.end() + 1, "5 minutes", f"bad duration \"5 minutes\" for {key}"))
        break
else:
    die("no duration in [[services]] to break")

open(broken, "w").write("\n".join(lines))
for line, col, needle, what in sorted(out):
    print(f"{line}\t{col}\t{needle}\t{what}")
