#!/usr/bin/env bash
# The README tour, pasted: every ```sh block of "A five-minute tour" (but `make run`) runs in one shell, in
# order, against `make run`'s set-up (scripts/demo.sh: vpced, NSD for example.com, the demo backend) in a
# copy of conf/ and scripts/. Each block's output must show what the README says it shows.
# Uses the tour's fixed addresses (127.0.0.1:5300, :8053, :5399, ENI addresses on 443/80): ctest runs it
# under a resource lock. usage: run.sh VPCED SOURCE_DIR
set -u
VPCED=$(readlink -f "$1")
SRC=$(readlink -f "$2")
BUILD=$(dirname "$(dirname "$VPCED")")
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/vpced-it-tour.XXXXXX")
DEMO=""
FAILS=0
CHECKS=0

finish() {
  if [ -n "$DEMO" ]; then
    kill -TERM "$DEMO" 2>/dev/null
    wait "$DEMO" 2>/dev/null
  fi
  if [ "$FAILS" -gt 0 ]; then
    echo "---- demo log ----" >&2; tail -n 40 "$T/demo.log" >&2
    echo "tour: $FAILS of $CHECKS checks failed (work dir kept: $T)" >&2
    exit 1
  fi
  rm -rf "$T"
  echo "PASS: $CHECKS checks"
}
trap finish EXIT
fail() { FAILS=$((FAILS + 1)); CHECKS=$((CHECKS + 1)); echo "FAIL: $*" >&2; }
pass() { CHECKS=$((CHECKS + 1)); }

cp -r "$SRC/conf" "$SRC/scripts" "$SRC/README.md" "$T/"
rm -rf "$T/conf/state"
ln -s "$BUILD" "$T/build"
cd "$T" || exit 1

setsid bash scripts/demo.sh build conf/example.toml >"$T/demo.log" 2>&1 &
DEMO=$!
ready=""
for _ in $(seq 1 75); do
  if dig +short +time=1 +tries=1 @127.0.0.1 -p 5300 us-east-1.vpce.amazonaws.com SOA 2>/dev/null | grep -q "^ns1\." &&
     dig +short +time=1 +tries=1 @127.0.0.1 -p 5399 example.com SOA 2>/dev/null | grep -q "^ns1\."; then
    ready=1
    break
  fi
  sleep 0.2  # readiness poll interval, not a synchronisation
done
[ -n "$ready" ] || { fail "make run's set-up did not answer on :5300 and :5399 within ~15 s"; exit 1; }

# The blocks, with a marker before each so the output can be cut back into blocks.
"$PY" - README.md >"$T/tour.sh" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
tour = text[text.index("## A five-minute tour"):text.index("## Documentation")]
blocks = re.findall(r"```sh\n(.*?)```", tour, re.S)
n = 0
for b in blocks:
    if "make run" in b:
        continue
    n += 1
    print("echo '=== block %d'" % n)
    print(b)
print("echo '=== end'")
PYEOF
bash "$T/tour.sh" >"$T/tour.out" 2>&1

# Expectations: (a piece of the block's source, an extended regex its output must match).
result=$("$PY" - "$T/tour.sh" "$T/tour.out" <<'PYEOF'
import re, sys
script, out = open(sys.argv[1]).read(), open(sys.argv[2]).read()
src_blocks = re.split(r"echo '=== block \d+'\n", script)[1:]
out_blocks = re.split(r"=== block \d+\n", out.split("=== end")[0])[1:]
expect = [
    ("vpced check -c conf/example.toml", r"ok: conf/example.toml: 2 services, 3 vpcs, 6 endpoints"),
    ("SOA +norec", r"ANSWER: 1, .*flags: qr aa|flags: qr aa.*ANSWER: 1"),
    ("REGIONAL=$(", r"^vpce-[0-9a-f]{17}-[a-z0-9]{8}\.vpce-svc-[0-9a-f]{17}\.us-east-1\.vpce\.amazonaws\.com\n"),
    ('"$ZONAL" +short', r"^(127\.16\.\d+\.\d+\n){3}127\.16\.\d+\.\d+\n"),
    ("PENDING=$(", r"status: NXDOMAIN[\s\S]*status: NOERROR[\s\S]*SOA[\s\S]*198\.51\.100\.8[\s\S]*status: REFUSED"),
    ("named-checkzone", r"OK\n[\s\S]*kzonecheck: ok"),
    ("verify show orders\n", r"state: pendingVerification[\s\S]*IN TXT \"vpce:[A-Za-z0-9]{20}\""),
    ("verify start orders", r"checked orders now\n[\s\S]*state: verified"),
    ("-b 127.16.0.10 api.orders", r"state: verified[\s\S]*127\.16\.[\s\S]*127\.17\.\d+\.\d+\n127\.17\.\d+\.\d+\n198\.51\.100\.7\n198\.51\.100\.7\n[\s\S]*view: vpc-0c000003"),
    ("reports-to-orders\"]/", r"reloaded: serial \d+, generation \d+\n127\.18\.\d+\.\d+\n[\s\S]*reloaded"),
    ("broken.toml", r"broken\.toml:\d+:\d+: error: server\.ttl[\s\S]*broken\.toml:\d+:\d+: error: vpcs\.subnets\.cidr"),
    ("curl -s --interface", r"(reached 127\.16\.\d+\.\d+:443 through endpoint vpce-[0-9a-f]{17}[\s\S]*){2}"),
    ("vpcectl status", r"zone: +us-east-1\.vpce\.amazonaws\.com[\s\S]*vpced_dns_queries_total\{[\s\S]*result: hit[\s\S]*result: nxdomain"),
]
checks = fails = 0
if len(src_blocks) != len(out_blocks):
    print("FAIL: %d blocks in the tour but %d in its output" % (len(src_blocks), len(out_blocks)))
    fails += 1
for piece, pattern in expect:
    checks += 1
    idx = [i for i, b in enumerate(src_blocks) if piece in b]
    if not idx:
        print("FAIL: no tour block contains %r (the README changed: update tests/integration/tour/run.sh)" % piece)
        fails += 1
        continue
    o = out_blocks[idx[0]] if idx[0] < len(out_blocks) else ""
    if not re.search(pattern, o, re.M):
        print("FAIL: the block with %r printed:\n%s\n--- expected to match: %s" % (piece, o, pattern))
        fails += 1
print("CHECKS %d FAILS %d" % (checks, fails))
PYEOF
)
grep '^FAIL' -A30 <<<"$result" | grep -v '^CHECKS' >&2
read -r _ n _ f <<<"$(grep '^CHECKS' <<<"$result")"
CHECKS=$((CHECKS + ${n:-0}))
FAILS=$((FAILS + ${f:-1}))
