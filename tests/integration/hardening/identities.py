#!/usr/bin/env python3
"""Prints the identities of a state directory's identity.json as sorted "key value" lines (service ids,
endpoint ids, DNS suffixes, ENI addresses, verification tokens), leaving out the serial and digest that may
move. Exits 1 with a message when the file is missing or not valid JSON (a torn write)."""
import json
import sys

try:
    state = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print("identity.json unreadable: %s" % e, file=sys.stderr)
    sys.exit(1)
lines = []
for name, s in state.get("services", {}).items():
    lines.append("service %s id %s" % (name, s.get("id")))
    v = s.get("verification")
    if v:
        lines.append("service %s token %s %s %s" % (name, v.get("domain_name"), v.get("name"), v.get("value")))
for name, e in state.get("endpoints", {}).items():
    lines.append("endpoint %s id %s suffix %s" % (name, e.get("id"), e.get("dns_suffix")))
    for subnet, addr in e.get("addresses", {}).items():
        lines.append("endpoint %s eni %s %s" % (name, subnet, addr))
print("\n".join(sorted(lines)))
