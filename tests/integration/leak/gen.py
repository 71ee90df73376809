"""Generates a large vpced config for the split-horizon leak test, and the plan the checker uses.

usage: gen.py CONF PLAN.json DNS_PORT ADMIN_PORT [SEED]

60 VPCs in 10 consumer accounts: 36 with a /16 of dns_clients (127.100-135.0.0/16, /24 subnets; every 7th
also has a second prefix 127.250.N.0/24), 24 with a /24 (127.200.N.0/24, /26 subnets); one subnet per AZ.
Services (all private names verified by the test):
  alpha  api.alpha.example.com          no acceptance
  beta   *.beta.example.org             no acceptance (wildcard)
  gamma  db.gamma.example.net           acceptance required: some accepted, some rejected, rest pending
  delta  *.delta.internal.example       no acceptance (wildcard)
  eps    eps.example.com                no acceptance
  zeta   (no private DNS name)
Each VPC gets an endpoint to a random subset of the services (seeded), with 1-3 subnets; some VPCs also
get a second endpoint of a service with private_dns_enabled = false (its addresses must never be answered).
The plan says, per VPC, its prefixes and one query source in each, and per endpoint its VPC, service,
private DNS flag and expected state; the addresses come from `vpced describe` at check time.
"""
import ipaddress
import json
import random
import sys
import tomllib

conf_path, plan_path, dns_port, admin_port = sys.argv[1:5]
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 20260101
rng = random.Random(seed)

AZ_IDS = ["use1-az1", "use1-az2", "use1-az4"]
AZ_NAMES = ["us-east-1a", "us-east-1b", "us-east-1c"]
PROVIDER = "111122223333"
ACCOUNTS = [f"{400000000000 + 11111 * (k + 1):012d}" for k in range(10)]

SERVICES = [
    ("alpha", "api.alpha.example.com", False),
    ("beta", "*.beta.example.org", False),
    ("gamma", "db.gamma.example.net", True),
    ("delta", "*.delta.internal.example", False),
    ("eps", "eps.example.com", False),
    ("zeta", None, False),
]

out = []
w = out.append
w('[region]\nname = "us-east-1"\nazs = ["use1-az1", "use1-az2", "use1-az4"]\n')
w(f'[server]\nstate_dir = "state"\ndns_listen = ["127.0.0.1:{dns_port}"]\nadmin_listen = "127.0.0.1:{admin_port}"\n'
  'ttl = 60\nforwarders = []\n')

perms = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2]]
w('[[accounts]]\nid = "111122223333"\naz_names = { "us-east-1a" = "use1-az1", "us-east-1b" = "use1-az2", '
  '"us-east-1c" = "use1-az4" }\n')
for k, acct in enumerate(ACCOUNTS):
    p = perms[k % len(perms)]
    m = ", ".join(f'"{AZ_NAMES[i]}" = "{AZ_IDS[p[i]]}"' for i in range(3))
    w(f'[[accounts]]\nid = "{acct}"\naz_names = {{ {m} }}\n')

# --- VPCs ----------------------------------------------------------------------------------------------------
vpcs = []
for i in range(60):
    vid = f"vpc-{0x1a000000 + i:08x}"
    acct = ACCOUNTS[i % len(ACCOUNTS)]
    if i < 36:
        prefixes = [f"127.{100 + i}.0.0/16"]
        if i % 7 == 0:
            prefixes.append(f"127.250.{i}.0/24")
        subnets = [f"127.{100 + i}.{k + 1}.0/24" for k in range(3)]
    else:
        j = i - 36
        prefixes = [f"127.200.{j}.0/24"]
        subnets = [f"127.200.{j}.{64 * k}/26" for k in range(3)]
    subnet_ids = [f"subnet-{0x5a000000 + i * 16 + k:08x}" for k in range(3)]
    # one query source per prefix: a random host address inside it (never the network address)
    sources = []
    for p in prefixes:
        net = ipaddress.ip_network(p)
        sources.append(str(net.network_address + rng.randrange(1, net.num_addresses - 1)))
    vpcs.append({"id": vid, "account": acct, "prefixes": prefixes, "sources": sources,
                 "subnets": list(zip(subnet_ids, AZ_NAMES, subnets))})
    subs = ",\n".join(f'  {{ id = "{sid}", az = "{az}", cidr = "{c}" }}' for sid, az, c in vpcs[-1]["subnets"])
    w(f'[[vpcs]]\nid = "{vid}"\naccount = "{acct}"\ndns_clients = {json.dumps(prefixes)}\nsubnets = [\n{subs},\n]\n')

# --- endpoints -----------------------------------------------------------------------------------------------
endpoints = []
for i, v in enumerate(vpcs):
    chosen = [s for s in SERVICES if rng.random() < 0.65]
    if not chosen:
        chosen = [SERVICES[i % len(SERVICES)]]
    for sname, pname, _ in chosen:
        k = rng.randint(1, 3)
        subs = [sid for sid, _, _ in rng.sample(v["subnets"], k)]
        endpoints.append({"name": f"e{i:02d}-{sname}", "vpc": v["id"], "service": sname, "subnets": subs,
                          "principal": f"arn:aws:iam::{v['account']}:root", "private": pname is not None})
        if pname is not None and rng.random() < 0.12:
            subs2 = [sid for sid, _, _ in rng.sample(v["subnets"], rng.randint(1, 3))]
            endpoints.append({"name": f"e{i:02d}-{sname}-nodns", "vpc": v["id"], "service": sname,
                              "subnets": subs2, "principal": f"arn:aws:iam::{v['account']}:root",
                              "private": False, "explicit_off": True})

# gamma: accept ~60 %, reject ~15 %, leave the rest pendingAcceptance
gamma = [e for e in endpoints if e["service"] == "gamma"]
accepted, rejected = [], []
for e in gamma:
    r = rng.random()
    if r < 0.6:
        accepted.append(e["name"])
        e["state"] = "available"
    elif r < 0.75:
        rejected.append(e["name"])
        e["state"] = "rejected"
    else:
        e["state"] = "pendingAcceptance"
for e in endpoints:
    e.setdefault("state", "available")

for sname, pname, acc in SERVICES:
    w(f'[[services]]\nname = "{sname}"\nowner = "{PROVIDER}"\nazs = {json.dumps(AZ_IDS)}\n'
      f'acceptance_required = {"true" if acc else "false"}\nallowed_principals = ["*"]\n')
    if acc:
        w(f"accepted = {json.dumps(accepted)}\nrejected = {json.dumps(rejected)}\n")
    if pname:
        w(f'private_dns_name = "{pname}"\n')

for e in endpoints:
    w(f'[[endpoints]]\nname = "{e["name"]}"\nvpc = "{e["vpc"]}"\nservice = "{e["service"]}"\n'
      f'principal = "{e["principal"]}"\nsubnets = {json.dumps(e["subnets"])}\n')
    if e.get("explicit_off"):
        w("private_dns_enabled = false\n")

text = "\n".join(out)
tomllib.loads(text)  # must be valid TOML
open(conf_path, "w").write(text)

plan = {
    "vpcs": [{"id": v["id"], "prefixes": v["prefixes"], "sources": v["sources"]} for v in vpcs],
    "services": [{"name": s, "private_dns_name": p} for s, p, _ in SERVICES],
    "endpoints": [{k: e[k] for k in ("name", "vpc", "service", "private", "state")} for e in endpoints],
}
json.dump(plan, open(plan_path, "w"), indent=1)
n_private = sum(1 for e in endpoints if e["private"] and e["state"] == "available")
print(len(vpcs), len(endpoints), n_private)
