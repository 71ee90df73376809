#!/usr/bin/python3
"""Checks generated identity in `vpced describe --json` outputs (design §4). Prints "FAIL: ..." lines and
one final "CHECKS n" line; exit status 0 either way (the caller counts).

usage:
  compare.py shape DESCRIBE.json CONFIG.toml
      id formats, uniqueness, ENI addresses inside their subnets minus the AWS-reserved ones, pins honoured
  compare.py stable BEFORE.json AFTER.json [REMOVED ADDED]
      every endpoint and service present in both keeps its id, DNS names and addresses; REMOVED is gone,
      ADDED is new with an id and addresses nobody else holds
"""
import ipaddress
import json
import re
import sys
import tomllib

checks = 0


def check(ok, msg):
    global checks
    checks += 1
    if not ok:
        print(f"FAIL: {msg}")


def by_name(items):
    out = {}
    for x in items:
        name = next((t["Value"] for t in x.get("Tags", []) if t.get("Key") == "Name"), None)
        check(name is not None, f"{x.get('VpcEndpointId') or x.get('ServiceId')}: no Name tag")
        out[name] = x
    return out


def shape(describe, config):
    d = json.load(open(describe))
    cfg = tomllib.load(open(config, "rb"))
    subnets = {sn["id"]: ipaddress.IPv4Network(sn["cidr"]) for v in cfg["vpcs"] for sn in v["subnets"]}
    pins = {e["name"]: e.get("addresses", {}) for e in cfg["endpoints"]}
    services = by_name(d["ServiceConfigurations"])
    endpoints = by_name(d["VpcEndpoints"])
    check(set(services) == {s["name"] for s in cfg["services"]},
          f"services in describe {sorted(services)} vs config {[s['name'] for s in cfg['services']]}")
    check(set(endpoints) == set(pins), f"endpoints in describe {sorted(endpoints)} vs config {sorted(pins)}")
    for name, s in services.items():
        sid = s["ServiceId"]
        check(re.fullmatch(r"vpce-svc-[0-9a-f]{17}", sid) is not None, f"service {name}: id '{sid}' is not vpce-svc-<17 hex>")
        check(s["ServiceName"] == f"com.amazonaws.vpce.{cfg['region']['name']}.{sid}",
              f"service {name}: ServiceName '{s['ServiceName']}'")
    ids = [e["VpcEndpointId"] for e in endpoints.values()] + [s["ServiceId"] for s in services.values()]
    check(len(set(ids)) == len(ids), f"ids are not unique: {ids}")
    held = {}
    for name, e in endpoints.items():
        eid = e["VpcEndpointId"]
        check(re.fullmatch(r"vpce-[0-9a-f]{17}", eid) is not None, f"endpoint {name}: id '{eid}' is not vpce-<17 hex>")
        regional = e["DnsEntries"][0]["DnsName"] if e["DnsEntries"] else ""
        check(re.fullmatch(re.escape(eid) + r"-[a-z0-9]{8}\." + re.escape(e["ServiceId"]) + r"\..+", regional) is not None,
              f"endpoint {name}: regional name '{regional}' is not {eid}-<8 [a-z0-9]>.{e['ServiceId']}.…")
        check(sorted(n["SubnetId"] for n in e["NetworkInterfaces"]) == sorted(e["SubnetIds"]),
              f"endpoint {name}: one NetworkInterface per subnet expected, got {e['NetworkInterfaces']}")
        for n in e["NetworkInterfaces"]:
            net = subnets.get(n["SubnetId"])
            addr = ipaddress.IPv4Address(n["PrivateIpAddress"])
            if net is None:
                check(False, f"endpoint {name}: unknown subnet {n['SubnetId']}")
                continue
            first, last = int(net.network_address) + 4, int(net.broadcast_address) - 1
            check(first <= int(addr) <= last,
                  f"endpoint {name}: {addr} not in the usable part of {net} "
                  f"({ipaddress.IPv4Address(first)}-{ipaddress.IPv4Address(last)}; AWS reserves 4 + 1)")
            pin = pins[name].get(n["SubnetId"])
            if pin:
                check(str(addr) == pin, f"endpoint {name}: pinned {pin} in {n['SubnetId']}, got {addr}")
            other = held.setdefault(str(addr), name)
            check(other == name, f"{addr} held by both {other} and {name}")


def stable(before, after, removed=None, added=None):
    b, a = json.load(open(before)), json.load(open(after))
    bs, as_ = by_name(b["ServiceConfigurations"]), by_name(a["ServiceConfigurations"])
    for name in bs.keys() & as_.keys():
        for key in ("ServiceId", "ServiceName", "BaseEndpointDnsNames", "PrivateDnsNameConfiguration"):
            check(bs[name].get(key) == as_[name].get(key),
                  f"service {name}: {key} changed: {bs[name].get(key)} -> {as_[name].get(key)}")
    be, ae = by_name(b["VpcEndpoints"]), by_name(a["VpcEndpoints"])
    common = be.keys() & ae.keys()
    check(len(common) >= 3, f"fewer than 3 endpoints in both outputs: {sorted(common)}")
    for name in sorted(common):
        for key in ("VpcEndpointId", "ServiceId", "State", "DnsEntries", "NetworkInterfaces"):
            check(be[name].get(key) == ae[name].get(key),
                  f"endpoint {name}: {key} changed: {be[name].get(key)} -> {ae[name].get(key)}")
    if removed:
        check(removed in be, f"endpoint {removed} missing before the edit")
        check(removed not in ae, f"removed endpoint {removed} still described")
    if added:
        check(added not in be, f"endpoint {added} already present before the edit")
        check(added in ae, f"added endpoint {added} not described")
        if added in ae:
            new = ae[added]
            old_ids = {e["VpcEndpointId"] for e in be.values()}
            check(new["VpcEndpointId"] not in old_ids, f"added endpoint reuses id {new['VpcEndpointId']}")
            others = {n["PrivateIpAddress"] for nm, e in ae.items() if nm != added for n in e["NetworkInterfaces"]}
            mine = {n["PrivateIpAddress"] for n in new["NetworkInterfaces"]}
            check(not (mine & others), f"added endpoint's addresses {sorted(mine & others)} are held by others")
            check(len(new["NetworkInterfaces"]) == len(new["SubnetIds"]) > 0,
                  f"added endpoint: NetworkInterfaces {new['NetworkInterfaces']} for subnets {new['SubnetIds']}")


if sys.argv[1] == "shape":
    shape(sys.argv[2], sys.argv[3])
else:
    stable(*sys.argv[2:])
print(f"CHECKS {checks}")
