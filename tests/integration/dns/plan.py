#!/usr/bin/python3
"""Turns `vpced describe --json` into one line per DNS name to query, tab-separated:

    STATE  KIND  NAME  EXPECTED

KIND is regional, zonal or private; EXPECTED is the sorted, comma-separated A set the public view must
answer (design §5: regional -> every ENI address, zonal -> the ENI of the AZ named in the label) or "-".
Shape errors of the describe output itself are printed as "FAIL: ..." lines on stdout.

usage: plan.py DESCRIBE_JSON APEX
"""
import ipaddress
import json
import re
import sys


def main():
    describe = json.load(open(sys.argv[1]))
    apex = sys.argv[2].lower().rstrip(".")
    endpoints = describe.get("VpcEndpoints", [])
    verified = {s["ServiceId"]: s.get("PrivateDnsNameConfiguration", {}).get("State")
                for s in describe.get("ServiceConfigurations", [])}
    for e in endpoints:
        eid = e.get("VpcEndpointId", "?")
        state = e.get("State", "?")
        enis = e.get("NetworkInterfaces", [])
        entries = [d["DnsName"] for d in e.get("DnsEntries", [])]
        addrs = sorted((n["PrivateIpAddress"] for n in enis), key=ipaddress.IPv4Address)
        by_az = {n["AvailabilityZone"]: n["PrivateIpAddress"] for n in enis}
        if len(by_az) != len(enis):
            print(f"FAIL: {eid}: two NetworkInterfaces in one AZ: {enis}")
        if not enis:
            print(f"FAIL: {eid}: no NetworkInterfaces")
        generated = 1 + len(enis)
        if len(entries) < generated:
            print(f"FAIL: {eid}: DnsEntries: expected at least {generated} (regional + one zonal per ENI), got {entries}")
            continue
        private = entries[generated:]
        # The private name is listed while it is live: enabled, endpoint available, service name verified.
        live = (e.get("PrivateDnsEnabled") and state == "available"
                and verified.get(e.get("ServiceId")) == "verified")
        if live and len(private) != 1:
            print(f"FAIL: {eid}: private DNS is live but DnsEntries has {len(private)} names after the zonal ones")
        if not live and private:
            print(f"FAIL: {eid}: private DNS is not live but DnsEntries has extra names {private}")

        regional = entries[0]
        m = re.fullmatch(r"(vpce-[0-9a-f]{17})-([a-z0-9]{8})\.(vpce-svc-[0-9a-f]{17})\.(.+)", regional)
        if not m or m.group(1) != eid or m.group(3) != e.get("ServiceId") or m.group(4) != apex:
            print(f"FAIL: {eid}: regional name '{regional}' is not <vpce-id>-<8 chars>.<service-id>.{apex}")
            continue
        suffix, base = m.group(2), m.group(3) + "." + apex
        print(f"{state}\tregional\t{regional}\t{','.join(addrs) or '-'}")

        seen = set()
        for z in entries[1:generated]:
            zm = re.fullmatch(re.escape(f"{eid}-{suffix}-") + r"([a-z0-9-]+)\." + re.escape(base), z)
            if not zm:
                print(f"FAIL: {eid}: zonal name '{z}' is not {eid}-{suffix}-<az-name>.{base}")
                continue
            az = zm.group(1)
            if az not in by_az:
                print(f"FAIL: {eid}: zonal name '{z}' names AZ {az}, which has no NetworkInterface ({sorted(by_az)})")
                continue
            seen.add(az)
            print(f"{state}\tzonal\t{z}\t{by_az[az]}")
        if seen != set(by_az):
            print(f"FAIL: {eid}: zonal names cover AZs {sorted(seen)}, NetworkInterfaces cover {sorted(by_az)}")
        for p in private:
            print(f"{state}\tprivate\t{p}\t-")


main()
