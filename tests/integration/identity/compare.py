#!/usr/bin/python3
"""Checks generated identity in `vpced describe --json` outputs (design §4). Prints "FAIL: ..." lines and
one final "CHECKS n" line; exit status 0 either way (the caller counts).

usage:
  compare.py shape DESCRIBE.json CONFIG.toml
      id formats, uniqueness, ENI addresses inside their subnets minus the AWS-reserved ones, pins honoured
  compare.py stable BEFORE.json AFTER.json [REMOVED ADDED]
      every endpoint and service present in both keeps its id, DNS names and addresses; REMOVED is gone,
      ADDED is new with an id and addresses nobody else holds
  compare.py subnet-removed BEFORE.json AFTER.json NAME SUBNET
      endpoint NAME lost SUBNET: same id and DNS suffix, its other ENIs unchanged; every other endpoint unchanged
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
    # Derived independently from the config: states (design §4), AZ names per account (design §1), defaults.
    accounts = {a["id"]: a.get("az_names", {}) for a in cfg.get("accounts", [])}
    svc_cfg = {s["name"]: s for s in cfg["services"]}
    vpc_cfg = {v["id"]: v for v in cfg["vpcs"]}
    for name, s in services.items():
        c = svc_cfg.get(name, {})
        names_of = {az_id: az for az, az_id in accounts.get(c.get("owner"), {}).items()}
        check(s.get("AvailabilityZoneIds") == c.get("azs"), f"service {name}: AvailabilityZoneIds {s.get('AvailabilityZoneIds')} vs config azs {c.get('azs')}")
        check(s.get("AvailabilityZones") == [names_of.get(i) for i in c.get("azs", [])],
              f"service {name}: AvailabilityZones {s.get('AvailabilityZones')}, expected the owner's names {[names_of.get(i) for i in c.get('azs', [])]}")
        check(s.get("AcceptanceRequired") == c.get("acceptance_required", True), f"service {name}: AcceptanceRequired")
        check(s.get("PrivateDnsName") == c.get("private_dns_name"), f"service {name}: PrivateDnsName {s.get('PrivateDnsName')}")
    for c in cfg["endpoints"]:
        e = endpoints.get(c["name"])
        if e is None:
            continue
        svc, vpc = svc_cfg[c["service"]], vpc_cfg[c["vpc"]]
        if c["name"] in svc.get("rejected", []):
            want = "rejected"
        elif not svc.get("acceptance_required", True) or c["name"] in svc.get("accepted", []):
            want = "available"
        else:
            want = "pendingAcceptance"
        check(e["State"] == want, f"endpoint {c['name']}: State {e['State']}, expected {want}")
        check(e["VpcId"] == c["vpc"], f"endpoint {c['name']}: VpcId {e['VpcId']}")
        check(e["ServiceId"] == services[svc["name"]]["ServiceId"], f"endpoint {c['name']}: ServiceId")
        check(e["SubnetIds"] == c["subnets"], f"endpoint {c['name']}: SubnetIds {e['SubnetIds']} vs {c['subnets']}")
        pdns = c.get("private_dns_enabled", "private_dns_name" in svc)
        check(e["PrivateDnsEnabled"] == pdns, f"endpoint {c['name']}: PrivateDnsEnabled {e['PrivateDnsEnabled']}, expected {pdns}")
        sn_az = {sn["id"]: sn["az"] for sn in vpc["subnets"]}
        for n in e["NetworkInterfaces"]:
            az = sn_az.get(n["SubnetId"])
            check(n["AvailabilityZone"] == az, f"endpoint {c['name']}: ENI in {n['SubnetId']} has AZ {n['AvailabilityZone']}, subnet says {az}")
            az_id = accounts.get(vpc["account"], {}).get(az)
            check(n["AvailabilityZoneId"] == az_id,
                  f"endpoint {c['name']}: ENI in {n['SubnetId']} has AZ ID {n['AvailabilityZoneId']}, account {vpc['account']} maps {az} to {az_id}")
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


def subnet_removed(before, after, name, subnet):
    be, ae = by_name(json.load(open(before))["VpcEndpoints"]), by_name(json.load(open(after))["VpcEndpoints"])
    check(be.keys() == ae.keys(), f"endpoints changed: {sorted(be)} -> {sorted(ae)}")
    for other in sorted(be.keys() & ae.keys()):
        if other == name:
            continue
        for key in ("VpcEndpointId", "DnsEntries", "NetworkInterfaces"):
            check(be[other].get(key) == ae[other].get(key), f"endpoint {other}: {key} changed by editing {name}")
    b, a = be.get(name), ae.get(name)
    if not b or not a:
        check(False, f"endpoint {name} missing")
        return
    check(b["VpcEndpointId"] == a["VpcEndpointId"], f"endpoint {name}: id changed when a subnet was removed")
    check(b["DnsEntries"][0] == a["DnsEntries"][0], f"endpoint {name}: regional name changed when a subnet was removed")
    kept = [n for n in b["NetworkInterfaces"] if n["SubnetId"] != subnet]
    check(len(kept) == len(b["NetworkInterfaces"]) - 1, f"endpoint {name} had no ENI in {subnet}")
    check(a["NetworkInterfaces"] == kept,
          f"endpoint {name}: ENIs after removing {subnet}: expected {kept}, got {a['NetworkInterfaces']}")
    gone = [d["DnsName"] for d in b["DnsEntries"] if d not in a["DnsEntries"]]
    check(len(gone) == 1 and len(a["DnsEntries"]) == len(b["DnsEntries"]) - 1,
          f"endpoint {name}: expected exactly the zonal name of {subnet} to go, gone: {gone}")


if sys.argv[1] == "shape":
    shape(sys.argv[2], sys.argv[3])
elif sys.argv[1] == "subnet-removed":
    subnet_removed(*sys.argv[2:6])
else:
    stable(*sys.argv[2:])
print(f"CHECKS {checks}")
