#!/usr/bin/env python3
"""Writes the verification bench inputs (bench/verify.sh).

  config OUT.toml STATE_DIR DNS_LISTEN ADMIN NSD_ADDR [SERVICES] [DOMAINS]
      SERVICES services (no targets, so no relay listeners or health checks), service N with the private
      DNS name svc-N.dK.bench.example (K = N mod DOMAINS), each with one endpoint (private DNS enabled) in
      one VPC, so that a verified name adds a private zone to that VPC's view. [verify] pins
      bench.example to NSD_ADDR; interval 1m, recheck_every 24h, so one start-up is one cycle.
  zone DESCRIBE.json OUT.zone SERIAL
      bench.example's zone for NSD: SOA, NS, and the TXT record of every service's token, read from
      `vpced describe --json`.
"""
import json
import sys


def config(out, state_dir, listen, admin, nsd, services=10000, domains=10):
    lines = [
        '[region]', 'name = "us-east-1"', 'azs = ["use1-az1", "use1-az2", "use1-az4"]', '',
        '[server]', f'state_dir = "{state_dir}"', f'dns_listen = ["{listen}"]', f'admin_listen = "{admin}"',
        'ttl = 60', 'forwarders = []', '',
        '[verify]', f'nameservers = {{ "bench.example" = ["{nsd}"] }}', 'interval = "1m"',
        'recheck_every = "24h"', 'give_up_after = "72h"', '',
        '[[accounts]]', 'id = "111122223333"',
        'az_names = { "us-east-1a" = "use1-az1", "us-east-1b" = "use1-az2", "us-east-1c" = "use1-az4" }', '',
        '[[accounts]]', 'id = "444455556666"',
        'az_names = { "us-east-1a" = "use1-az2", "us-east-1b" = "use1-az4", "us-east-1c" = "use1-az1" }', '',
        '[[vpcs]]', 'id = "vpc-00000001"', 'account = "444455556666"', 'dns_clients = ["127.100.0.0/16"]',
        'subnets = [', '  { id = "subnet-00010000", az = "us-east-1a", cidr = "127.20.0.0/16" },', ']', '',
    ]
    for s in range(services):
        lines += ['[[services]]', f'name = "svc{s}"', 'owner = "111122223333"', 'azs = ["use1-az2"]',
                  'acceptance_required = false', 'allowed_principals = ["*"]',
                  f'private_dns_name = "svc-{s}.d{s % domains}.bench.example"', '']
    for s in range(services):
        lines += ['[[endpoints]]', f'name = "e{s}"', 'vpc = "vpc-00000001"', f'service = "svc{s}"',
                  'principal = "arn:aws:iam::444455556666:root"', 'subnets = ["subnet-00010000"]', '']
    open(out, "w").write("\n".join(lines))


def zone(describe, out, serial):
    d = json.load(open(describe))
    lines = ['$ORIGIN bench.example.', '$TTL 300',
             f'@ IN SOA ns1.bench.example. hostmaster.bench.example. ( {serial} 3600 600 86400 300 )',
             '@ IN NS ns1.bench.example.', 'ns1 IN A 127.0.0.1']
    n = 0
    for s in d["ServiceConfigurations"]:
        c = s.get("PrivateDnsNameConfiguration")
        name = s.get("PrivateDnsName")
        if not c or not name:
            continue
        lines.append(f'{c["Name"]}.{name}. IN TXT "{c["Value"]}"')
        n += 1
    open(out, "w").write("\n".join(lines) + "\n")
    print(n)


if __name__ == "__main__":
    if sys.argv[1] == "config":
        a = sys.argv[2:]
        config(a[0], a[1], a[2], a[3], a[4], *(int(x) for x in a[5:7]))
    elif sys.argv[1] == "zone":
        zone(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)
