#!/usr/bin/env python3
"""Writes a vpced config with SERVICES endpoint services x ENDPOINTS endpoints each (bench/dns.sh).

Every endpoint sits in three subnets (three AZs), so it has one regional and three zonal names: 1,000 x 5
gives 20,000 names plus the apex. Everything lives on 127.0.0.0/8; queries from 127.0.0.1 see the public view.
usage: gen_config.py OUT.toml STATE_DIR DNS_LISTEN [SERVICES] [ENDPOINTS]
"""
import sys

out, state_dir, listen = sys.argv[1], sys.argv[2], sys.argv[3]
services = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
endpoints = int(sys.argv[5]) if len(sys.argv) > 5 else 5
azs = ["use1-az1", "use1-az2", "use1-az4"]
letters = ["us-east-1a", "us-east-1b", "us-east-1c"]
lines = [
    '[region]', 'name = "us-east-1"', f'azs = {azs!r}'.replace("'", '"'), '',
    '[server]', f'state_dir = "{state_dir}"', f'dns_listen = ["{listen}"]', 'ttl = 60', 'forwarders = []', '',
    '[[accounts]]', 'id = "111122223333"',
    'az_names = { "us-east-1a" = "use1-az1", "us-east-1b" = "use1-az2", "us-east-1c" = "use1-az4" }', '',
    '[[accounts]]', 'id = "444455556666"',
    'az_names = { "us-east-1a" = "use1-az2", "us-east-1b" = "use1-az4", "us-east-1c" = "use1-az1" }', '',
]
for v in range(endpoints):
    lines += ['[[vpcs]]', f'id = "vpc-{v + 1:08x}"', 'account = "444455556666"',
              f'dns_clients = ["127.{100 + v}.0.0/16"]', 'subnets = [']
    for a in range(3):
        lines.append(f'  {{ id = "subnet-{v + 1:04x}{a:04x}", az = "{letters[a]}", cidr = "127.{20 + 3 * v + a}.0.0/16" }},')
    lines += [']', '']
for s in range(services):
    lines += ['[[services]]', f'name = "svc{s}"', 'owner = "111122223333"', f'azs = {azs!r}'.replace("'", '"'),
              'acceptance_required = false', 'allowed_principals = ["*"]', '',
              '  [services.load_balancer]', '  listeners = [443]',
              f'  targets = [{{ address = "127.1.{s // 250}.{s % 250 + 1}:9443", az = "use1-az1" }}]', '']
for s in range(services):
    for v in range(endpoints):
        lines += ['[[endpoints]]', f'name = "svc{s}-vpc{v}"', f'vpc = "vpc-{v + 1:08x}"', f'service = "svc{s}"',
                  'principal = "arn:aws:iam::444455556666:root"',
                  'subnets = [' + ', '.join(f'"subnet-{v + 1:04x}{a:04x}"' for a in range(3)) + ']', '']
open(out, "w").write("\n".join(lines))
