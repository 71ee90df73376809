#!/usr/bin/python3
"""Removes the last subnet of the first available endpoint that has two or more, editing the config in place.
Prints "ENDPOINT-NAME SUBNET-ID".

usage: drop_subnet.py CONFIG.toml DESCRIBE.json
"""
import json
import re
import sys
import tomllib

path, describe = sys.argv[1], sys.argv[2]
eps = [e for e in json.load(open(describe))["VpcEndpoints"] if e["State"] == "available" and len(e["SubnetIds"]) >= 2]
if not eps:
    sys.exit("drop_subnet.py: no available endpoint with two subnets")
e = eps[0]
name = next(t["Value"] for t in e["Tags"] if t["Key"] == "Name")
drop = e["SubnetIds"][-1]
lines = open(path).read().split("\n")
start = next(i for i, l in enumerate(lines) if re.match(r'\s*name\s*=\s*"' + re.escape(name) + '"', l))
i = next(i for i in range(start, len(lines)) if re.match(r"\s*subnets\s*=", lines[i]))
new = re.sub(r',?\s*"' + re.escape(drop) + '"', "", lines[i], count=1)
if new == lines[i]:
    sys.exit(f"drop_subnet.py: cannot remove {drop} from line {i + 1}")
lines[i] = new
text = "\n".join(lines)
cfg = tomllib.loads(text)
assert next(x for x in cfg["endpoints"] if x["name"] == name)["subnets"] == e["SubnetIds"][:-1]
open(path, "w").write(text)
print(name, drop)
