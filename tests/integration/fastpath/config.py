"""A config for the UDP fast-path test: a region of 26 AZs and one service in all of them, so the regional
name of its endpoint lists 26 addresses (26 x 16 bytes of answer: more than 512, so TC without EDNS), plus
40 ordinary endpoints in three AZs. With UPSTREAM_PORT, names outside the zones are forwarded to
127.0.0.1:UPSTREAM_PORT, and 127.0.0.1 may transfer the public zone (tcp_pipeline.py).
usage: config.py OUT.toml DNS_PORT ADMIN_PORT [UPSTREAM_PORT]"""
import sys

out, port, admin = sys.argv[1], sys.argv[2], sys.argv[3]
upstream = sys.argv[4] if len(sys.argv) > 4 else None
n_az = 26
azs = [f"use1-az{i + 1}" for i in range(n_az)]
names = [f"us-east-1{chr(ord('a') + i)}" for i in range(n_az)]
q = lambda xs: "[" + ", ".join(f'"{x}"' for x in xs) + "]"
mapping = "{ " + ", ".join(f'"{n}" = "{a}"' for n, a in zip(names, azs)) + " }"
L = ['[region]', 'name = "us-east-1"', f'azs = {q(azs)}', '',
     '[server]', 'state_dir = "state"', f'dns_listen = ["127.0.0.1:{port}"]', f'admin_listen = "127.0.0.1:{admin}"', 'ttl = 60',
     f'forwarders = ["127.0.0.1:{upstream}"]' if upstream else 'forwarders = []', '']
if upstream:
    L += ['[transfer]', 'allow = ["127.0.0.1/32"]', '']
L += ['[[accounts]]', 'id = "111122223333"', f'az_names = {mapping}', '',
     '[[vpcs]]', 'id = "vpc-0a000001"', 'account = "111122223333"', 'dns_clients = ["127.200.0.0/16"]',
      'subnets = [']
for i in range(n_az):
    L.append(f'  {{ id = "subnet-{i + 1:08x}", az = "{names[i]}", cidr = "127.{30 + i}.0.0/24" }},')
L += [']', '']
services = [("wide", azs)] + [(f"svc{s}", azs[:3]) for s in range(40)]
for name, zs in services:
    L += ['[[services]]', f'name = "{name}"', 'owner = "111122223333"', f'azs = {q(zs)}',
          'acceptance_required = false', 'allowed_principals = ["*"]', '', '  [services.load_balancer]',
          '  listeners = [443]', '  cross_zone = true', '  targets = [{ address = "127.1.0.1:9443", az = "use1-az1" }]', '']
for name, zs in services:
    subnets = [f"subnet-{azs.index(z) + 1:08x}" for z in zs]
    L += ['[[endpoints]]', f'name = "{name}-ep"', 'vpc = "vpc-0a000001"', f'service = "{name}"',
          'principal = "arn:aws:iam::111122223333:root"', f'subnets = {q(subnets)}', '']
open(out, "w").write("\n".join(L))
