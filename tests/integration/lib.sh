# Shared helpers for the integration scripts: a private copy of conf/example.toml on a free loopback port,
# vpced started and stopped by pid, readiness polling, and check counting. Source it from <feature>/run.sh
# with the script's own arguments: run.sh VPCED SOURCE_DIR.
# shellcheck shell=bash

set -u

if [ $# -lt 2 ]; then
  echo "usage: $0 PATH/TO/vpced PROJECT_SOURCE_DIR" >&2
  exit 2
fi
VPCED=$(readlink -f "$1")
SRC=$(readlink -f "$2")
PY=/usr/bin/python3            # stdlib only (tomllib, json, socket); never a pyenv shim
TEST_NAME=$(basename "$(dirname "$(readlink -f "$0")")")
HERE=$(dirname "$(readlink -f "$0")")

if [ ! -x "$VPCED" ]; then
  echo "FAIL: vpced binary '$VPCED' is not executable" >&2
  exit 1
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/vpced-it-$TEST_NAME.XXXXXX")
CONF="$DIR/example.toml"
LOG="$DIR/vpced.log"
PID=""
PORT=""
APEX=""
ADMIN=""
TTL=""
CHECKS=0
FAILS=0

# --- results ---------------------------------------------------------------------------------------------

pass() { CHECKS=$((CHECKS + 1)); }

fail() {
  CHECKS=$((CHECKS + 1))
  FAILS=$((FAILS + 1))
  echo "FAIL: $*" >&2
}

# A failure after which the script cannot go on (vpced did not start, describe failed...).
die() {
  fail "$*"
  exit 1
}

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
  if [ "$2" == "$3" ]; then pass; else fail "$1: expected '$2', got '$3'"; fi
}

# check_match WHAT EXTENDED-REGEX ACTUAL
check_match() {
  if [[ "$3" =~ $2 ]]; then pass; else fail "$1: expected to match /$2/, got '$3'"; fi
}

# check_contains WHAT NEEDLE HAYSTACK
check_contains() {
  if [[ "$3" == *"$2"* ]]; then pass; else fail "$1: expected to contain '$2', got '$3'"; fi
}

# check_true WHAT COMMAND... : passes when the command exits 0.
check_true() {
  local what=$1
  shift
  if "$@"; then pass; else fail "$what (command: $*)"; fi
}

# Runs a Python checker (arguments: script and its arguments) that prints "FAIL: ..." lines and a final
# "CHECKS n" line, and adds its results to the counts.
py_checks() {
  local out rc n line
  out=$("$PY" "$@" 2>&1)
  rc=$?
  if [ $rc -ne 0 ]; then
    fail "$(basename "$1") ${2:-} exited with status $rc: $out"
    return
  fi
  n=$(sed -n 's/^CHECKS \([0-9]*\)$/\1/p' <<<"$out")
  if [ -z "$n" ]; then
    fail "$(basename "$1") ${2:-}: no CHECKS line in its output: $out"
    return
  fi
  CHECKS=$((CHECKS + n))
  while IFS= read -r line; do
    if [[ "$line" == FAIL:* ]]; then
      FAILS=$((FAILS + 1))
      echo "$line" >&2
    fi
  done <<<"$out"
}

# Called by the EXIT trap: stops vpced, prints its log on failure, reports.
finish() {
  local rc=$?
  stop_vpced
  if [ "$FAILS" -eq 0 ] && [ "$rc" -ne 0 ]; then
    echo "FAIL: $TEST_NAME script exited with status $rc" >&2
    FAILS=1
  fi
  if [ "$FAILS" -gt 0 ]; then
    if [ -s "$LOG" ]; then
      echo "---- vpced log ($LOG) ----" >&2
      tail -n 100 "$LOG" >&2
      echo "---- end of vpced log ----" >&2
    fi
    echo "$TEST_NAME: $FAILS of $CHECKS checks failed (work dir kept: $DIR)" >&2
    exit 1
  fi
  rm -rf "$DIR"
  echo "PASS: $CHECKS checks"
  exit 0
}
trap finish EXIT

# Escapes a string for use inside an extended regular expression (grep -E, [[ =~ ]]).
re_escape() { sed 's/[][\\.*^$()+?{}|]/\\&/g' <<<"$1"; }

# --- setup -----------------------------------------------------------------------------------------------

# A port that is free on 127.0.0.1 for both UDP and TCP right now.
free_port() { "$PY" "$SRC/scripts/free_ports.py" 1; }

# Copies conf/example.toml to $CONF with server.dns_listen on a free port (and admin_listen on another),
# keeping state_dir relative ("state", inside $DIR). Sets PORT, APEX and TTL.
setup_config() {
  [ -f "$SRC/conf/example.toml" ] || die "missing $SRC/conf/example.toml"
  PORT=$(free_port) || die "cannot find a free port"
  local admin
  admin=$(free_port) || die "cannot find a free port"
  local out
  out=$("$PY" - "$SRC/conf/example.toml" "$CONF" "$PORT" "$admin" <<'EOF'
import re, sys, tomllib
src, dst, port, admin = sys.argv[1:5]
text = open(src).read()
lines = text.split("\n")
section = None
done = set()
for i, line in enumerate(lines):
    m = re.match(r"\s*\[\[?([A-Za-z0-9_.]+)\]\]?", line)
    if m:
        section = m.group(1)
        continue
    if section != "server":
        continue
    if re.match(r"\s*dns_listen\s*=", line):
        lines[i] = f'dns_listen = ["127.0.0.1:{port}"]'
        done.add("dns_listen")
    elif re.match(r"\s*admin_listen\s*=", line):
        lines[i] = f'admin_listen = "127.0.0.1:{admin}"'
        done.add("admin_listen")
    elif re.match(r"\s*state_dir\s*=", line):
        lines[i] = 'state_dir = "state"'
        done.add("state_dir")
for i, line in enumerate(lines):
    # The verifier asks a closed port: every check fails at once (ICMP port unreachable), so it never
    # depends on a DNS server that happens to run on this machine, and tests decide verification
    # themselves (seed_verified, or their own authoritative server).
    if re.match(r"\s*nameservers\s*=", line):
        lines[i] = 'nameservers = { "example.com" = ["127.0.0.1:9"] }'
        done.add("nameservers")
    # The relay listens on every ENI address; tests run side by side with ENI addresses drawn from the same
    # subnets, so each listener line gets a free port of its own instead of 443/80.
    if re.match(r"\s*listeners\s*=", line):
        import socket
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        lines[i] = re.sub(r"listeners\s*=.*", "listeners = [%d]" % probe.getsockname()[1], line)
        probe.close()
    # No forwarders unless a test brings its own upstream: outside names are REFUSED, at once.
    if re.match(r"\s*forwarders\s*=", line):
        lines[i] = 'forwarders = []'
        done.add("forwarders")
if "dns_listen" not in done:
    raise SystemExit("example.toml: no single-line server.dns_listen to rewrite")
text = "\n".join(lines)
cfg = tomllib.loads(text)        # the rewrite must still be valid TOML
open(dst, "w").write(text)
region = cfg["region"]
apex = region["name"] + "." + region.get("dns_suffix", "vpce.amazonaws.com")
print(apex.lower(), cfg["server"].get("ttl", 60))
EOF
  ) || die "cannot prepare $CONF from conf/example.toml"
  read -r APEX TTL <<<"$out"
  ADMIN="127.0.0.1:$admin"
}

# --- vpced -----------------------------------------------------------------------------------------------

# Starts `vpced run` on $CONF and waits (at most ~10 s) until the apex SOA is answered over UDP.
start_vpced() {
  "$VPCED" run -c "$CONF" 2>"$LOG" &
  PID=$!
  local answer
  for _ in $(seq 1 50); do
    if ! kill -0 "$PID" 2>/dev/null; then
      wait "$PID"
      local rc=$?
      PID=""
      die "vpced run exited during start-up with status $rc"
    fi
    answer=$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$APEX" SOA 2>/dev/null)
    if [ -n "$answer" ] && [[ "$answer" != ";;"* ]]; then
      return 0
    fi
    # Poll interval of the readiness loop, not a synchronisation: the loop exits on the first answer.
    sleep 0.2
  done
  die "vpced did not answer $APEX SOA on 127.0.0.1:$PORT within ~10 s"
}

# The admin API of the vpced under test ($ADMIN, set by setup_config).
api() {  # api METHOD PATH -> prints "STATUS BODY"
  "$PY" - "$ADMIN" "$1" "$2" <<'PYEOF'
import sys, urllib.request, urllib.error
admin, method, path = sys.argv[1:4]
req = urllib.request.Request("http://" + admin + path, method=method, data=b"" if method == "POST" else None)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode().replace("\n", " "))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().replace("\n", " "))
PYEOF
}

# stop_by_pid NAME PID: SIGTERM, then SIGKILL (a failure) if it is still there after ~5 s; reaps it.
# Every peer a test starts (NSD, Knot, unbound, helpers) is stopped this way, by its own pid.
stop_by_pid() {
  local name=$1 pid=$2
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "$name (pid $pid) still running 5 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}

# Waits (at most ~10 s) until $PID answers the apex SOA over UDP; for scripts that start vpced themselves.
wait_answering() {
  local answer
  for _ in $(seq 1 50); do
    answer=$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$APEX" SOA 2>/dev/null)
    if [ -n "$answer" ] && [[ "$answer" != ";;"* ]]; then return 0; fi
    sleep 0.2  # poll interval of the readiness loop
  done
  fail "vpced did not answer $APEX SOA on 127.0.0.1:$PORT within ~10 s"
  return 1
}

# SIGTERM stops vpced (design §8); it must exit 0 within ~5 s, else it is killed and that is a failure.
stop_vpced() {
  [ -n "$PID" ] || return 0
  local pid=$PID rc
  PID=""
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "vpced (pid $pid) still running 5 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
  fi
  wait "$pid"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "vpced exited with status $rc on SIGTERM, expected 0"
    return 1
  fi
}

# Marks the private DNS names of the given services (config names) verified, as the verifier would: writes
# state/verification.json from the tokens in state/identity.json (run `describe_to` first to create them).
seed_verified() {
  "$PY" - "$DIR/state" "$@" <<'EOF' || die "cannot seed $DIR/state/verification.json"
import json, os, sys
state_dir, services = sys.argv[1], sys.argv[2:]
ident = json.load(open(os.path.join(state_dir, "identity.json")))
out = {"format": 1, "services": {}}
for name in services:
    tok = ident["services"][name]["verification"]
    out["services"][name] = {"name": tok["domain_name"], "token_name": tok["name"], "token_value": tok["value"],
                             "state": "verified", "last_check": "2026-01-01T00:00:00Z",
                             "since": "2026-01-01T00:00:00Z", "reasons": []}
tmp = os.path.join(state_dir, "verification.json.tmp")
json.dump(out, open(tmp, "w"), indent=2)
os.replace(tmp, os.path.join(state_dir, "verification.json"))
EOF
}

# Writes `vpced describe --json` for $CONF to the given file; dies if it fails.
describe_to() {
  "$VPCED" describe -c "$CONF" --json >"$1" 2>"$DIR/describe.err" ||
    die "vpced describe -c $CONF --json failed: $(cat "$DIR/describe.err")"
}

# --- DNS -------------------------------------------------------------------------------------------------

# dig against the server under test; arguments are appended.
qdig() { dig +time=2 +tries=1 +norec @127.0.0.1 -p "$PORT" "$@" 2>&1; }
qkdig() { kdig +time=2 +retry=0 +norec @127.0.0.1 -p "$PORT" "$@" 2>&1; }

# The status word (NOERROR, NXDOMAIN...) of a dig reply text.
dig_status() { sed -n 's/.*status: \([A-Z]*\)[,;].*/\1/p' <<<"$1" | head -n 1; }
# The header flags of a dig reply text ("qr aa rd").
dig_flags() { sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' <<<"$1" | head -n 1; }
# The count of one section from the dig header line (ANSWER, AUTHORITY, ADDITIONAL).
dig_count() { sed -n "s/.*[ ,]$1: \([0-9]*\).*/\1/p" <<<"$2" | head -n 1; }
