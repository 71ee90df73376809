#!/usr/bin/env python3
"""Writes a vpced config with ENDPOINTS interface endpoints for the large-transfer test (transfer/large.sh):
services of ENDPOINTS/VPCS endpoints each, one per VPC, every endpoint in three AZs (one regional and three
zonal names, six A records: no targets, so the regional name fails open to every ENI). Services and
endpoints are arrays of inline tables to keep the file small (about 160 bytes per endpoint).
usage: gen_big.py OUT.toml DNS_PORT ADMIN_PORT ENDPOINTS [VPCS]
"""
import sys

out, port, admin, endpoints = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
vpcs = int(sys.argv[5]) if len(sys.argv) > 5 else 5
services = (endpoints + vpcs - 1) // vpcs
azs = '["use1-az1", "use1-az2", "use1-az4"]'
letters = ["us-east-1a", "us-east-1b", "us-east-1c"]
w = open(out, "w")
# Root keys come before the first table header.
w.write('services = [\n')
for s in range(services):
    w.write(f'{{name="s{s}",owner="111122223333",azs={azs},acceptance_required=false,allowed_principals=["*"]}},\n')
w.write(']\nendpoints = [\n')
n = 0
for s in range(services):
    for v in range(vpcs):
        if n == endpoints:
            break
        subnets = ",".join(f'"subnet-{v + 1:04x}{a:04x}"' for a in range(3))
        w.write(f'{{name="e{n}",vpc="vpc-{v + 1:08x}",service="s{s}",principal="arn:aws:iam::444455556666:root",'
                f'subnets=[{subnets}]}},\n')
        n += 1
w.write(']\n\n')
w.write(f'''[region]
name = "us-east-1"
azs = {azs}

[server]
state_dir = "state"
dns_listen = ["127.0.0.1:{port}"]
admin_listen = "127.0.0.1:{admin}"
ttl = 60
forwarders = []

[transfer]
allow = ["127.0.0.1/32"]
keys = [{{ name = "pub-key", algorithm = "hmac-sha256", secret_file = "pub.key" }}]

[[accounts]]
id = "111122223333"
az_names = {{ "us-east-1a" = "use1-az1", "us-east-1b" = "use1-az2", "us-east-1c" = "use1-az4" }}

[[accounts]]
id = "444455556666"
az_names = {{ "us-east-1a" = "use1-az2", "us-east-1b" = "use1-az4", "us-east-1c" = "use1-az1" }}

''')
for v in range(vpcs):
    w.write(f'[[vpcs]]\nid = "vpc-{v + 1:08x}"\naccount = "444455556666"\ndns_clients = ["127.{100 + v}.0.0/16"]\n'
            'subnets = [\n')
    for a in range(3):
        w.write(f'  {{ id = "subnet-{v + 1:04x}{a:04x}", az = "{letters[a]}", cidr = "127.{20 + 3 * v + a}.0.0/16" }},\n')
    w.write(']\n\n')
