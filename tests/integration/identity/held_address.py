#!/usr/bin/python3
"""Picks an endpoint of a service without acceptance whose addresses are all generated, and prints the TOML of
a new endpoint that pins that endpoint's first ENI address, preceded by one line "HOLDER ADDRESS".

usage: held_address.py DESCRIBE.json CONFIG.toml NEW-NAME
"""
import json
import sys
import tomllib

describe, config, new = sys.argv[1:4]
cfg = tomllib.load(open(config, "rb"))
auto = {s["name"] for s in cfg["services"] if not s.get("acceptance_required", True)}
byname = {e["name"]: e for e in cfg["endpoints"]}
for e in json.load(open(describe))["VpcEndpoints"]:
    name = next(t["Value"] for t in e["Tags"] if t["Key"] == "Name")
    c = byname[name]
    if c["service"] in auto and not c.get("addresses") and e["NetworkInterfaces"]:
        n = e["NetworkInterfaces"][0]
        print(name, n["PrivateIpAddress"])
        print()
        print("[[endpoints]]")
        print(f'name = "{new}"')
        print(f'vpc = "{c["vpc"]}"')
        print(f'service = "{c["service"]}"')
        print(f'principal = "{c["principal"]}"')
        print(f'subnets = ["{n["SubnetId"]}"]')
        print(f'private_dns_enabled = false')
        print(f'addresses = {{ "{n["SubnetId"]}" = "{n["PrivateIpAddress"]}" }}')
        break
else:
    sys.exit("held_address.py: no endpoint with generated addresses in a service without acceptance")
