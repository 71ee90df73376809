#!/usr/bin/python3
"""Edits a vpced config the way an operator would between two runs: removes one [[endpoints]] table and
appends a new endpoint, copied from an endpoint of a service that needs no acceptance (so the new one is
available) with private DNS off (no name clash in the VPC). Prints "REMOVED<TAB>ADDED" (endpoint names).

usage: edit.py CONFIG.toml          (edits in place)
"""
import re
import sys
import tomllib

path = sys.argv[1]
text = open(path).read()
cfg = tomllib.loads(text)
lines = text.split("\n")

referenced = set()
for s in cfg["services"]:
    referenced.update(s.get("accepted", []))
    referenced.update(s.get("rejected", []))
auto = {s["name"] for s in cfg["services"] if not s.get("acceptance_required", True)}
eps = cfg["endpoints"]
free = [e for e in eps if e["name"] not in referenced and e.get("id") not in referenced]
# Remove an endpoint no service lists by name, preferring an available one (its records leave the zone).
removable = [e for e in free if e["service"] in auto] or free
if not removable:
    sys.exit("edit.py: every endpoint is named in accepted/rejected; nothing to remove safely")
removed = removable[-1]
template = next((e for e in eps if e["service"] in auto and e is not removed), None)
if template is None:
    sys.exit("edit.py: no endpoint of a service without acceptance to copy")

starts = [i for i, l in enumerate(lines) if re.match(r"\s*\[\[\s*endpoints\s*\]\]", l)]
if len(starts) != len(eps):
    sys.exit("edit.py: cannot match [[endpoints]] headers to endpoints")
k = eps.index(removed)
start = starts[k]
end = start + 1
while end < len(lines) and not re.match(r"\s*\[", lines[end]):
    end += 1
del lines[start:end]

added = "added-by-identity-test"
toml_list = lambda xs: "[" + ", ".join(f'"{x}"' for x in xs) + "]"
lines += ["", "[[endpoints]]",
          f'name = "{added}"',
          f'vpc = "{template["vpc"]}"',
          f'service = "{template["service"]}"',
          f'principal = "{template["principal"]}"',
          f'subnets = {toml_list(template["subnets"])}',
          "private_dns_enabled = false", ""]
new_text = "\n".join(lines)
new_cfg = tomllib.loads(new_text)
names = [e["name"] for e in new_cfg["endpoints"]]
assert removed["name"] not in names and added in names and len(names) == len(eps), names
open(path, "w").write(new_text)
print(f"{removed['name']}\t{added}")
