#!/usr/bin/env bash
# No private answer leaks across views at scale (design §5): a generated config with 60 VPCs (/16 and /24
# dns_clients, some with two prefixes), 250+ endpoints over six services (two wildcard names, one with
# acceptance so some endpoints are pending or rejected, one without a private name, some endpoints with
# private DNS off). Every private name is asked from one source inside every dns_clients prefix and from
# sources in no VPC, with raw UDP sockets (leak/query.py): only the owning VPC may see private addresses,
# and it must see exactly its endpoint's ENI addresses. Then two services lose verification (SIGHUP) and
# the sweep is repeated: their zones vanish everywhere, the others stay.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

START=$(date +%s)
PORT=$(free_port) || die "cannot find a free port"
ADMIN_PORT=$(free_port) || die "cannot find a free port"
APEX=us-east-1.vpce.amazonaws.com
TTL=60
counts=$("$PY" "$HERE/gen.py" "$CONF" "$DIR/plan.json" "$PORT" "$ADMIN_PORT") || die "gen.py failed"
read -r n_vpcs n_endpoints n_private <<<"$counts"
check_true "at least 50 VPCs (got $n_vpcs)" test "$n_vpcs" -ge 50
check_true "at least 200 endpoints (got $n_endpoints)" test "$n_endpoints" -ge 200
check_true "at least 100 available endpoints with private DNS (got $n_private)" test "$n_private" -ge 100
out=$("$VPCED" check -c "$CONF" 2>&1) || die "vpced check rejects the generated config: $out"
echo "$out"

SERVICES="alpha beta gamma delta eps"   # the services with a private DNS name
describe_to "$DIR/describe0.json"       # generates identity and tokens
# shellcheck disable=SC2086
seed_verified $SERVICES
describe_to "$DIR/describe.json"
start_vpced

py_checks "$HERE/query.py" "$PORT" "$DIR/plan.json" "$DIR/describe.json" "$DIR/summary1.txt"
cat "$DIR/summary1.txt" 2>/dev/null

# --- beta (wildcard) and gamma lose verification: their private zones must vanish in every view -------------
seed_verified alpha delta eps
kill -HUP "$PID"
gone() {  # the first owner source of a beta endpoint no longer gets an answer
  "$PY" - "$PORT" "$DIR/plan.json" <<'EOF'
import json, socket, struct, sys
port, plan = int(sys.argv[1]), json.load(open(sys.argv[2]))
vpc = next(e["vpc"] for e in plan["endpoints"] if e["service"] == "beta" and e["private"] and e["state"] == "available")
src = next(v["sources"][0] for v in plan["vpcs"] if v["id"] == vpc)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(1)
q = struct.pack("!HHHHHH", 4242, 0, 1, 0, 0, 0) + b"\x01x\x04beta\x07example\x03org\x00" + struct.pack("!HH", 1, 1)
s.sendto(q, ("127.0.0.1", port))
sys.exit(0 if s.recv(4096)[3] & 0xF == 5 else 1)  # REFUSED
EOF
}
wait_until() { local i; for i in $(seq 1 "$(($1 * 10))"); do "${@:2}" && return 0; sleep 0.1; done; return 1; }
wait_until 10 gone || fail "SIGHUP with beta unverified: beta's private zone still answered after 10 s"
describe_to "$DIR/describe2.json"
py_checks "$HERE/query.py" "$PORT" "$DIR/plan.json" "$DIR/describe2.json" "$DIR/summary2.txt" beta,gamma
cat "$DIR/summary2.txt" 2>/dev/null

check_true "vpced still running" kill -0 "$PID"
elapsed=$(($(date +%s) - START))
check_true "whole leak test within 60 s (took $elapsed s)" test "$elapsed" -le 60
