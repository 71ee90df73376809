# Helpers of the verification tests (design §6, docs/verification.md): NSD instances on loopback as the
# provider's public DNS for example.com, the [verify] section of the test config, the verification token,
# and vpcectl verify. Source it after ../lib.sh and ../views/common.sh.
# usage of the scripts: SCRIPT VPCED SOURCE_DIR VPCECTL [DRIVER]
# shellcheck shell=bash

VPCECTL=${3:-}
if [ -z "$VPCECTL" ] || [ ! -x "$VPCECTL" ]; then
  die "usage: $0 VPCED SOURCE_DIR VPCECTL: vpcectl '${VPCECTL}' is not executable"
fi
VPCECTL=$(readlink -f "$VPCECTL")
command -v nsd >/dev/null || die "nsd is not installed (scripts/install-deps.sh)"

PRIV=api.orders.example.com
APP=127.16.0.10   # vpc-0a000001: app-to-orders available, private DNS on
PUB=127.0.0.1     # the public view
SERVICE=orders

declare -A NSD_PID=()    # instance name → pid of `nsd -d`
declare -A NSD_PORT=()   # instance name → port on 127.0.0.1
declare -A NSD_SERIAL=() # instance name → SOA serial of the zone file written last

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# --- NSD --------------------------------------------------------------------------------------------------

# nsd_init NAME: a directory, a free port and an nsd.conf for one NSD instance serving example.com.
nsd_init() {
  local name=$1 port out
  port=$(free_port) || die "no free port for nsd $name"
  NSD_PORT[$name]=$port
  NSD_SERIAL[$name]=2024010100
  mkdir -p "$DIR/nsd-$name"
  cat >"$DIR/nsd-$name/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$port
    do-ip6: no
    server-count: 1
    zonesdir: "$DIR/nsd-$name"
    database: ""
    pidfile: "$DIR/nsd-$name/nsd.pid"
    xfrdfile: "$DIR/nsd-$name/xfrd.state"
    zonelistfile: "$DIR/nsd-$name/zone.list"
    username: ""
    chroot: ""
    logfile: "$DIR/nsd-$name/nsd.log"
    verbosity: 1
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "example.com"
    zonefile: "example.com.zone"
EOF
  out=$(nsd-checkconf "$DIR/nsd-$name/nsd.conf" 2>&1) || die "nsd-checkconf ($name): $out"
}

# nsd_zone NAME [ZONE-FILE-LINE...]: writes example.com's zone for instance NAME with a new serial and the
# given extra lines (relative owners, e.g. '_tok.api.orders IN TXT "vpce:…"'). The file's mtime moves one
# second past the last one: NSD reloads a zone on SIGHUP only when its mtime changed.
nsd_zone() {
  local name=$1 line file
  file=$DIR/nsd-$name/example.com.zone
  shift
  NSD_SERIAL[$name]=$((NSD_SERIAL[$name] + 1))
  {
    echo '$ORIGIN example.com.'
    echo '$TTL 300'
    echo "@       IN SOA  ns1.example.com. hostmaster.example.com. ( ${NSD_SERIAL[$name]} 3600 600 86400 300 )"
    echo '@       IN NS   ns1.example.com.'
    echo 'ns1     IN A    127.0.0.1'
    echo 'api.orders IN A 198.51.100.7'
    for line in "$@"; do echo "$line"; done
  } >"$file"
  touch -d "@$(($(date +%s) + NSD_SERIAL[$name] - 2024010100))" "$file"
  nsd-checkzone example.com "$file" >/dev/null 2>&1 || die "nsd-checkzone rejects $file: $(nsd-checkzone example.com "$file" 2>&1)"
}

# The SOA serial NSD instance NAME serves now (empty when it does not answer).
nsd_serial() {
  dig +short +time=1 +tries=1 +norec @127.0.0.1 -p "${NSD_PORT[$1]}" example.com SOA 2>/dev/null | awk '{print $3}'
}

# nsd_start NAME: starts `nsd -d` in the foreground and waits (~10 s) until it serves the zone file's serial.
nsd_start() {
  local name=$1 i
  nsd -d -c "$DIR/nsd-$name/nsd.conf" >>"$DIR/nsd-$name/nsd.out" 2>&1 &
  NSD_PID[$name]=$!
  for i in $(seq 1 50); do
    if ! kill -0 "${NSD_PID[$name]}" 2>/dev/null; then
      NSD_PID[$name]=""
      die "nsd $name exited during start-up: $(cat "$DIR/nsd-$name/nsd.out" "$DIR/nsd-$name/nsd.log" 2>/dev/null)"
    fi
    [ "$(nsd_serial "$name")" == "${NSD_SERIAL[$name]}" ] && return 0
    sleep 0.2
  done
  die "nsd $name did not serve serial ${NSD_SERIAL[$name]} on 127.0.0.1:${NSD_PORT[$name]} within ~10 s"
}

# nsd_reload NAME: SIGHUP (NSD 4.6 re-reads zone files whose mtime changed) and waits until the new serial
# is served; SIGHUP is sent again every ~1 s, at most 10 s. Prints how long it took (ms).
nsd_reload() {
  local name=$1 i start
  start=$(date +%s%N)
  for i in $(seq 1 100); do
    if [ $((i % 10)) -eq 1 ]; then kill -HUP "${NSD_PID[$name]}" 2>/dev/null || die "nsd $name is not running"; fi
    if [ "$(nsd_serial "$name")" == "${NSD_SERIAL[$name]}" ]; then
      echo "nsd $name reloaded serial ${NSD_SERIAL[$name]} in $(ms_since "$start") ms"
      return 0
    fi
    sleep 0.1
  done
  die "nsd $name did not serve serial ${NSD_SERIAL[$name]} within 10 s of SIGHUP"
}

# nsd_stop NAME: SIGTERM, then SIGKILL after 5 s (a failure).
nsd_stop() {
  local name=$1 pid
  pid=${NSD_PID[$name]:-}
  [ -n "$pid" ] || return 0
  NSD_PID[$name]=""
  stop_by_pid "nsd $name" "$pid"
}

nsd_stop_all() {
  local name
  for name in "${!NSD_PID[@]}"; do nsd_stop "$name"; done
}

# Prints the NSD logs when the test failed (from an EXIT trap, before lib.sh's finish).
nsd_logs_on_failure() {
  local name
  [ "$FAILS" -gt 0 ] || return 0
  for name in "${!NSD_PORT[@]}"; do
    if [ -s "$DIR/nsd-$name/nsd.log" ]; then
      echo "---- nsd $name log ----" >&2
      tail -n 20 "$DIR/nsd-$name/nsd.log" >&2
    fi
  done
}

# The TXT strings NSD instance NAME serves at NAME2 (dig +short form, sorted).
nsd_txt() { dig +short +time=1 +tries=1 +norec @127.0.0.1 -p "${NSD_PORT[$1]}" "$2" TXT 2>/dev/null | sort; }

# --- the test config --------------------------------------------------------------------------------------

# verify_config KEY=VALUE...: rewrites keys of [verify] in $CONF (nameservers="127.0.0.1:P1,127.0.0.1:P2"
# pins example.com to those servers; interval, give_up_after, recheck_every take durations), then requires
# `vpced check` to accept the file.
verify_config() {
  "$PY" - "$CONF" "$@" <<'EOF' || die "cannot edit [verify] in $CONF"
import re, sys, tomllib
path, pairs = sys.argv[1], sys.argv[2:]
want = {}
for p in pairs:
    k, v = p.split("=", 1)
    if k == "nameservers":
        servers = ", ".join('"%s"' % s for s in v.split(","))
        want[k] = '{ "example.com" = [%s] }' % servers
    else:
        want[k] = '"%s"' % v
lines = open(path).read().split("\n")
section, start, done = None, None, set()
for i, line in enumerate(lines):
    m = re.match(r"\s*\[\[?([A-Za-z0-9_.]+)\]\]?", line)
    if m:
        section = m.group(1)
        if section == "verify":
            start = i
        continue
    if section != "verify":
        continue
    m = re.match(r"\s*([a-z_]+)\s*=", line)
    if m and m.group(1) in want:
        lines[i] = "%s = %s" % (m.group(1), want[m.group(1)])
        done.add(m.group(1))
if start is None:
    lines += ["", "[verify]"]
    start = len(lines) - 1
missing = [k for k in want if k not in done]
lines[start + 1:start + 1] = ["%s = %s" % (k, want[k]) for k in missing]
text = "\n".join(lines)
cfg = tomllib.loads(text)["verify"]
for k, v in want.items():
    if tomllib.loads("x = " + v)["x"] != cfg.get(k):
        raise SystemExit("verify.%s did not take: %r" % (k, cfg.get(k)))
open(path, "w").write(text)
EOF
  local out
  out=$("$VPCED" check -c "$CONF" 2>&1) || die "vpced check rejects the test config: $out"
}

# The admin address setup_config chose.
admin_addr() { sed -n 's/^admin_listen = "\(.*\)"$/\1/p' "$CONF" | head -n 1; }

# token_of DESCRIBE.json: prints "TOKEN_NAME TOKEN_VALUE" of the service's PrivateDnsNameConfiguration.
token_of() {
  "$PY" - "$1" "$SERVICE" <<'EOF'
import json, sys
for s in json.load(open(sys.argv[1]))["ServiceConfigurations"]:
    if any(t["Key"] == "Name" and t["Value"] == sys.argv[2] for t in s.get("Tags", [])):
        c = s["PrivateDnsNameConfiguration"]
        print(c["Name"], c["Value"])
        break
else:
    raise SystemExit("no service named " + sys.argv[2])
EOF
}

# --- vpcectl verify ---------------------------------------------------------------------------------------

# vshow: `vpcectl verify show SERVICE --json` into $DIR/show.json; false when vpcectl fails.
vshow() { "$VPCECTL" --admin "$(admin_addr)" verify show "$SERVICE" --json >"$DIR/show.json" 2>"$DIR/show.err"; }

# jfield FILE KEY: a top-level field of a JSON file; lists print one item a line, null and missing print "".
jfield() {
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
if isinstance(v, list):
    print("\n".join(x if isinstance(x, str) else json.dumps(x) for x in v))
elif v is not None:
    print(v if isinstance(v, str) else json.dumps(v))
EOF
}

# The service's record in state/verification.json: FIELD (state, last_check, since, unmatched_since...).
state_field() {
  "$PY" - "$DIR/state/verification.json" "$SERVICE" "$1" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))["services"].get(sys.argv[2], {}).get(sys.argv[3])
print("" if v is None else v)
EOF
}

# wait_show SECONDS PYTHON-EXPR: polls `verify show --json` every 0.1 s until EXPR (over `j`, the parsed
# JSON, and `r`, its reasons joined by newlines) is true; false after SECONDS. Sets WAITED_MS.
WAITED_MS=0
wait_show() {
  local secs=$1 expr=$2 start i
  start=$(date +%s%N)
  for i in $(seq 1 $((secs * 10))); do
    if vshow && "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
r = "\n".join(j.get("reasons") or [])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$DIR/show.json" "$expr" 2>/dev/null; then
      WAITED_MS=$(ms_since "$start")
      return 0
    fi
    sleep 0.1
  done
  WAITED_MS=$(ms_since "$start")
  return 1
}

# The A set vpced answers for the private name from SOURCE.
priv_a() { dig_a_set "$(vdig "$1" 127.0.0.1 "$PORT" "$PRIV" A)"; }
priv_is() { [ "$(priv_a "$1")" == "$2" ]; }
priv_is_not() { [ "$(priv_a "$1")" != "$2" ]; }
