# Helpers shared by the split-horizon tests (views/run.sh, views/forward.sh, resolver/run.sh). Source it
# after ../lib.sh.
# shellcheck shell=bash

# Free port for UDP and TCP on a given loopback address (lib.sh's free_port checks 127.0.0.1 only).
free_port_on() {
  "$PY" - "$1" <<'EOF'
import socket, sys
addr = sys.argv[1]
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind((addr, 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind((addr, port))
    except OSError:
        t.close()
        continue
    u.close()
    t.close()
    print(port)
    break
else:
    raise SystemExit("no free port on " + addr)
EOF
}

# Sorts comma-, space- or newline-separated IPv4 addresses numerically and joins them with commas.
addr_set() { tr ', ' '\n\n' | sed '/^$/d' | sort -t. -k1,1n -k2,2n -k3,3n -k4,4n | paste -sd, -; }

# eni_addrs DESCRIBE.json ENDPOINT-NAME: the endpoint's ENI addresses (sorted, comma-joined).
eni_addrs() {
  "$PY" - "$1" "$2" <<'EOF' | addr_set
import json, sys
for e in json.load(open(sys.argv[1]))["VpcEndpoints"]:
    if any(t["Key"] == "Name" and t["Value"] == sys.argv[2] for t in e.get("Tags", [])):
        print("\n".join(n["PrivateIpAddress"] for n in e["NetworkInterfaces"]))
        break
else:
    raise SystemExit("no endpoint named " + sys.argv[2])
EOF
}

# endpoint_field DESCRIBE.json ENDPOINT-NAME FIELD: a top-level field (VpcEndpointId, State, ...) or
# "regional" (first DnsEntry) or "private" (DnsEntries that are not vpce-* generated names, comma-joined).
endpoint_field() {
  "$PY" - "$1" "$2" "$3" <<'EOF'
import json, sys
_, path, name, field = sys.argv
for e in json.load(open(path))["VpcEndpoints"]:
    if any(t["Key"] == "Name" and t["Value"] == name for t in e.get("Tags", [])):
        if field == "regional":
            print(e["DnsEntries"][0]["DnsName"])
        elif field == "private":
            print(",".join(d["DnsName"] for d in e["DnsEntries"] if not d["DnsName"].startswith("vpce-")))
        else:
            print(e[field])
        break
else:
    raise SystemExit("no endpoint named " + name)
EOF
}

# seed_state STATE SERVICE...: writes state/verification.json with every given service in STATE
# (verified, failed, pendingVerification), as the verifier would; "stale-verified" writes a verified record
# whose token does not match identity.json (a record for an older token: must count as not verified).
seed_state() {
  local state=$1
  shift
  "$PY" - "$DIR/state" "$state" "$@" <<'EOF' || die "cannot seed $DIR/state/verification.json"
import json, os, sys
state_dir, state, services = sys.argv[1], sys.argv[2], sys.argv[3:]
ident = json.load(open(os.path.join(state_dir, "identity.json")))
out = {"format": 1, "services": {}}
for name in services:
    tok = ident["services"][name]["verification"]
    value = tok["value"]
    if state == "stale-verified":
        state_now, value = "verified", "vpce:" + "0" * 20
    else:
        state_now = state
    out["services"][name] = {"name": tok["domain_name"], "token_name": tok["name"], "token_value": value,
                             "state": state_now, "last_check": "2026-01-01T00:00:00Z",
                             "since": "2026-01-01T00:00:00Z",
                             "reasons": ["TXT record not found"] if state_now == "failed" else []}
tmp = os.path.join(state_dir, "verification.json.tmp")
json.dump(out, open(tmp, "w"), indent=2)
os.replace(tmp, os.path.join(state_dir, "verification.json"))
EOF
}

# wait_until SECONDS COMMAND...: polls the command every 0.1 s until it succeeds; fails after SECONDS.
wait_until() {
  local secs=$1
  shift
  local i
  for i in $(seq 1 $((secs * 10))); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# vdig SOURCE SERVER PORT ARGS...: dig from SOURCE to SERVER:PORT (one try, 2 s).
vdig() {
  local src=$1 server=$2 port=$3
  shift 3
  dig +time=2 +tries=1 +norec -b "$src" @"$server" -p "$port" "$@" 2>&1
}

# The A addresses (sorted, comma-joined) of a dig reply text's answer section (not additional: NSD adds glue).
dig_a_set() { sed -n '/^;; ANSWER SECTION:/,/^$/p' <<<"$1" | awk '!/^;/ && $4 == "A" {print $5}' | addr_set; }

# The authority section of a dig reply text as "owner TYPE" lines (owner lowercased).
dig_authority() { sed -n '/^;; AUTHORITY SECTION:/,/^$/p' <<<"$1" | awk '!/^;/ && NF {print tolower($1), $4}'; }
