#!/usr/bin/env bash
# The daemon's life cycle (design §8): SIGHUP reloads an edited config (new endpoints answer, removed ones
# go, others keep their answers, the serial grows); a failed reload logs the error and keeps serving the last
# good config; an address already in use stops start-up with an error; SIGTERM stops it with status 0.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

serial() { qdig +short "$APEX" SOA | awk '{print $3}'; }
a_set() { qdig +short "$1" A | sort | paste -sd, -; }
log_count() { grep -c -- "$1" "$LOG"; }

# Waits (at most ~5 s) until COMMAND's output differs from OLD; prints the last output.
wait_change() {
  local old=$1 cur
  shift
  for _ in $(seq 1 50); do
    cur=$("$@")
    [ "$cur" != "$old" ] && break
    sleep 0.1
  done
  echo "$cur"
}

setup_config
start_vpced
check_contains "start-up log names the zone" "$APEX" "$(cat "$LOG")"
describe_to "$DIR/d1.json"      # the daemon is running: describe shares the state lock with it
# The example's [transfer] allows nobody: no IXFR history is kept or written (docs/secondaries.md).
check_true "no ixfr-history.json while no transfer can be allowed" test ! -e "$DIR/state/ixfr-history.json"
serial1=$(serial)
check_match "serial before reload" '^[0-9]+$' "$serial1"

# Expected answers: "NAME<TAB>A-SET" for every available endpoint's regional name ("-" when not available).
answers() {
  "$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1]))["VpcEndpoints"]:
    name = next(t["Value"] for t in e["Tags"] if t["Key"] == "Name")
    addrs = ",".join(sorted(n["PrivateIpAddress"] for n in e["NetworkInterfaces"])) if e["State"] == "available" else "-"
    print(name, e["DnsEntries"][0]["DnsName"], addrs)' "$1"
}
while read -r name dns want; do
  if [ "$want" == "-" ]; then continue; fi
  check_eq "before reload: $name ($dns)" "$want" "$(a_set "$dns")"
done < <(answers "$DIR/d1.json")

# --- SIGHUP with an edited config ---------------------------------------------------------------------------
edit=$("$PY" "$SRC/tests/integration/identity/edit.py" "$CONF") || die "edit.py could not edit $CONF"
read -r removed added <<<"$edit"
reloads=$(log_count "reloaded")
kill -HUP "$PID"
serial2=$(wait_change "$serial1" serial)
check_true "serial grows after SIGHUP with a changed zone ($serial1 -> $serial2)" test "${serial2:-0}" -gt "$serial1"
check_eq "log lines 'reloaded' after SIGHUP" "$((reloads + 1))" "$(log_count "reloaded")"
check_contains "reload log names the new serial" "reloaded: serial $serial2" "$(cat "$LOG")"
describe_to "$DIR/d2.json"      # reads the identity the daemon persisted on reload
py_checks "$SRC/tests/integration/identity/compare.py" stable "$DIR/d1.json" "$DIR/d2.json" "$removed" "$added"
while read -r name dns want; do
  if [ "$want" == "-" ]; then continue; fi
  check_eq "after reload: $name ($dns)" "$want" "$(a_set "$dns")"
done < <(answers "$DIR/d2.json")
removed_dns=$(answers "$DIR/d1.json" | awk -v n="$removed" '$1 == n {print $2}')
check_true "the removed endpoint had a name" test -n "$removed_dns"
check_eq "after reload: removed endpoint $removed ($removed_dns) status" NXDOMAIN "$(dig_status "$(qdig "$removed_dns" A)")"
check_true "after reload: added endpoint $added answers" test -n "$(a_set "$(answers "$DIR/d2.json" | awk -v n="$added" '$1 == n {print $2}')")"

# --- SIGHUP with a broken config: logged, last good config still served ---------------------------------------
cp "$CONF" "$DIR/good.toml"
printf '\n[[endpoints]\nname = "half a table header"\n' >>"$CONF"
errors=$(log_count " error ")
kill -HUP "$PID"
n=$(wait_change "$errors" log_count " error ")
check_true "a failed reload logs an error ($errors -> $n error lines)" test "$n" -gt "$errors"
check_contains "the failed reload's error names the config file" "$CONF:" "$(grep ' error ' "$LOG" | tail -n 1)"
check_true "vpced still running after a failed reload" kill -0 "$PID"
check_eq "serial after a failed reload" "$serial2" "$(serial)"
while read -r name dns want; do
  if [ "$want" == "-" ]; then continue; fi
  check_eq "after a failed reload: $name ($dns)" "$want" "$(a_set "$dns")"
done < <(answers "$DIR/d2.json")

# Restored: the next SIGHUP succeeds; same content, same serial.
cp "$DIR/good.toml" "$CONF"
reloads=$(log_count "reloaded")
kill -HUP "$PID"
n=$(wait_change "$reloads" log_count "reloaded")
check_eq "SIGHUP after restoring the config reloads" "$((reloads + 1))" "$n"
check_eq "serial after reloading unchanged content" "$serial2" "$(serial)"

# A corrupt state file on SIGHUP: the reload fails, the file is untouched, the last good snapshot is served.
STATE="$DIR/state/identity.json"
cp "$STATE" "$DIR/good-state.json"
printf '{"format": 1, "serial": ' >"$STATE"
before=$(sha256sum <"$STATE")
errors=$(log_count " error ")
kill -HUP "$PID"
n=$(wait_change "$errors" log_count " error ")
check_true "SIGHUP with a corrupt state file logs an error ($errors -> $n error lines)" test "$n" -gt "$errors"
check_contains "the error names the state file" "identity.json" "$(grep ' error ' "$LOG" | tail -n 1)"
check_true "vpced still running after SIGHUP with a corrupt state file" kill -0 "$PID"
check_eq "state file untouched by the failed reload" "$before" "$(sha256sum <"$STATE")"
check_eq "serial after the failed reload" "$serial2" "$(serial)"
cp "$DIR/good-state.json" "$STATE"

# --- an address already in use stops start-up --------------------------------------------------------------
mkdir -p "$DIR/second"
PORT2=$(free_port) || die "cannot find a free port"
sed "s/^dns_listen = .*/dns_listen = [\"127.0.0.1:$PORT2\"]/; s/^admin_listen = .*/admin_listen = \"127.0.0.1:$(free_port)\"/" \
  "$CONF" >"$DIR/second/example.toml"
"$PY" - "$PORT2" "$DIR/second/held" <<'EOF' &
import socket, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", port))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("127.0.0.1", port)); t.listen()
open(flag, "w").write("held\n")
time.sleep(15)
EOF
HOLDER=$!
for _ in $(seq 1 50); do
  [ -s "$DIR/second/held" ] && break
  sleep 0.1
done
check_true "helper holds 127.0.0.1:$PORT2" test -s "$DIR/second/held"
"$VPCED" run -c "$DIR/second/example.toml" 2>"$DIR/second/vpced.log" &
PID2=$!
for _ in $(seq 1 50); do
  kill -0 "$PID2" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$PID2" 2>/dev/null; then
  fail "vpced run on an address in use (127.0.0.1:$PORT2) is still running after ~5 s"
  kill "$PID2"
  wait "$PID2"
else
  wait "$PID2"
  rc=$?
  check_true "vpced run on an address in use exits non-zero (got $rc)" test "$rc" -ne 0
  check_contains "vpced run on an address in use names the address" "127.0.0.1:$PORT2" "$(cat "$DIR/second/vpced.log")"
fi
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null

# --- a second vpced on the address this one serves stops start-up ----------------------------------------
# Both would bind with SO_REUSEPORT; without a check the kernel would split queries between two daemons.
mkdir -p "$DIR/third"
sed "s/^admin_listen = .*/admin_listen = \"127.0.0.1:$(free_port)\"/" "$CONF" >"$DIR/third/example.toml"
"$VPCED" run -c "$DIR/third/example.toml" 2>"$DIR/third/vpced.log" &
PID3=$!
for _ in $(seq 1 50); do
  kill -0 "$PID3" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$PID3" 2>/dev/null; then
  fail "a second vpced on 127.0.0.1:$PORT is still running after ~5 s"
  kill "$PID3"
  wait "$PID3"
else
  wait "$PID3"
  rc=$?
  check_true "a second vpced on the same DNS address exits non-zero (got $rc)" test "$rc" -ne 0
  check_contains "the second vpced says why" "127.0.0.1:$PORT (another process serves it)" "$(cat "$DIR/third/vpced.log")"
fi

# --- SIGTERM ----------------------------------------------------------------------------------------------------
stop_vpced && pass
check_true "vpced no longer answers after SIGTERM" test -z "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$APEX" SOA 2>/dev/null | grep -v '^;;')"
