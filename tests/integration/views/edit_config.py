"""Edits the test's copy of conf/example.toml for the split-horizon tests (views/, resolver/).

usage: edit_config.py CONF [--vpc-listen VPC-ID ADDR]... [--trust-ecs CIDR]... [--forwarder ADDR]... [--wild]

--vpc-listen   adds ADDR to that VPC's dns_listen (a listener whose queries always see the VPC's view)
--trust-ecs    adds CIDR to server.trust_ecs_from
--forwarder    adds ADDR to server.forwarders
--wild         adds the service "wild" (private_dns_name "*.wild.example.net", no acceptance) with
               reports-to-wild in vpc-0c000003 (private DNS on: the owner of the name) and app-to-wild in
               vpc-0a000001 with private_dns_enabled = false (an endpoint, but no private zone)

The result must still be valid TOML (checked with tomllib); the script exits non-zero otherwise.
"""
import argparse
import re
import sys
import tomllib

WILD = '''
[[services]]
name = "wild"
owner = "111122223333"
azs = ["use1-az1", "use1-az2", "use1-az4"]
acceptance_required = false
allowed_principals = ["*"]
private_dns_name = "*.wild.example.net"

[[endpoints]]
name = "reports-to-wild"
vpc = "vpc-0c000003"
service = "wild"
principal = "arn:aws:iam::777788889999:root"
subnets = ["subnet-0c00003a", "subnet-0c00003c"]

[[endpoints]]
name = "app-to-wild"
vpc = "vpc-0a000001"
service = "wild"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a00001b"]
private_dns_enabled = false
'''


def toml_list(items):
    return "[" + ", ".join(f'"{x}"' for x in items) + "]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("conf")
    ap.add_argument("--vpc-listen", nargs=2, action="append", default=[], metavar=("VPC", "ADDR"))
    ap.add_argument("--trust-ecs", action="append", default=[])
    ap.add_argument("--forwarder", action="append", default=[])
    ap.add_argument("--wild", action="store_true")
    a = ap.parse_args()

    lines = open(a.conf).read().split("\n")
    out = []
    section = None
    current_vpc = None
    server_done = set()
    listen = {}
    for vpc, addr in a.vpc_listen:
        listen.setdefault(vpc, []).append(addr)
    listen_done = set()
    for line in lines:
        m = re.match(r"\s*\[\[?([A-Za-z0-9_.]+)\]\]?", line)
        if m:
            section = m.group(1)
            current_vpc = None
        if section == "server" and re.match(r"\s*forwarders\s*=", line) and a.forwarder:
            line = "forwarders = " + toml_list(a.forwarder)
            server_done.add("forwarders")
        if section == "server" and re.match(r"\s*trust_ecs_from\s*=", line) and a.trust_ecs:
            line = "trust_ecs_from = " + toml_list(a.trust_ecs)
            server_done.add("trust_ecs_from")
        out.append(line)
        if section == "server" and re.match(r"\s*dns_listen\s*=", line):
            # new server keys go right after server.dns_listen (still inside [server])
            if a.trust_ecs and not any(re.match(r"\s*trust_ecs_from\s*=", x) for x in lines):
                out.append("trust_ecs_from = " + toml_list(a.trust_ecs))
                server_done.add("trust_ecs_from")
            if a.forwarder and not any(re.match(r"\s*forwarders\s*=", x) for x in lines):
                out.append("forwarders = " + toml_list(a.forwarder))
                server_done.add("forwarders")
        if section == "vpcs":
            m = re.match(r'\s*id\s*=\s*"([^"]+)"', line)
            if m and m.group(1) in listen:
                current_vpc = m.group(1)
                out.append("dns_listen = " + toml_list(listen[current_vpc]))
                listen_done.add(current_vpc)
    text = "\n".join(out)
    if a.wild:
        text = text.rstrip("\n") + "\n" + WILD
    missing = set(listen) - listen_done
    if missing:
        sys.exit(f"edit_config: no [[vpcs]] with id {sorted(missing)}")
    if a.trust_ecs and "trust_ecs_from" not in server_done:
        sys.exit("edit_config: could not set server.trust_ecs_from")
    if a.forwarder and "forwarders" not in server_done:
        sys.exit("edit_config: could not set server.forwarders")
    cfg = tomllib.loads(text)
    for vpc, addrs in listen.items():
        got = next(v for v in cfg["vpcs"] if v["id"] == vpc).get("dns_listen")
        if got != addrs:
            sys.exit(f"edit_config: {vpc} dns_listen is {got}, wanted {addrs}")
    if a.trust_ecs and cfg["server"].get("trust_ecs_from") != a.trust_ecs:
        sys.exit("edit_config: server.trust_ecs_from not set")
    if a.forwarder and cfg["server"].get("forwarders") != a.forwarder:
        sys.exit("edit_config: server.forwarders not set")
    open(a.conf, "w").write(text)


main()
