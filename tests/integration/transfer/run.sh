#!/usr/bin/env bash
# Zone transfers to real secondaries (docs/secondaries.md): Knot and NSD follow vpced's public zone with TSIG,
# a second Knot follows vpc-0a000001's private zone with that VPC's key. vpced's [transfer] and the three
# secondaries' configs are the docs' blocks, taken out of the page by docs_block.py and run with their
# placeholders filled in (a missing or broken block fails the test). A config change (the pending endpoint
# accepted, SIGHUP) reaches every secondary through NOTIFY within seconds; each secondary answers every name of
# the zone as vpced does; wrong key, no key and a source outside transfer.allow get no records.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

command -v knotd >/dev/null || die "knotd is not installed (scripts/install-deps.sh: knot)"
command -v nsd >/dev/null || die "nsd is not installed (scripts/install-deps.sh)"

PRIV=api.orders.example.com
KNOT_PID=""
KNOT_VPC_PID=""
NSD_PID=""

on_exit() {
  local rc=$?
  stop_by_pid knotd "$KNOT_PID"
  stop_by_pid knotd "$KNOT_VPC_PID"
  stop_by_pid nsd "$NSD_PID"
  if [ "$FAILS" -gt 0 ]; then
    for f in "$DIR/knot/knot.log" "$DIR/knot-vpc-a/knot.log" "$DIR/nsd/nsd.log"; do
      [ -s "$f" ] && { echo "---- $f ----" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  (exit $rc)
  finish
}
trap on_exit EXIT

setup_config
KNOT_PORT=$(free_port) || die "no free port"
KNOT_VPC_PORT=$(free_port) || die "no free port"
NSD_PORT=$(free_port) || die "no free port"
[ "$KNOT_PORT" != "$KNOT_VPC_PORT" ] && [ "$KNOT_PORT" != "$NSD_PORT" ] && [ "$KNOT_VPC_PORT" != "$NSD_PORT" ] ||
  die "free_port returned the same port twice"
PUB_SECRET=$(openssl rand -base64 32)
VPC_SECRET=$(openssl rand -base64 32)
# The two formats a secret file may have: BIND's key block (tsig-keygen) and a bare base64 line.
printf 'key "pub-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' "$PUB_SECRET" >"$DIR/pub.key"
echo "$VPC_SECRET" >"$DIR/vpc-a.key"
chmod 600 "$DIR/pub.key" "$DIR/vpc-a.key"

# vpced's [transfer]: the docs' block for Knot and NSD, ports filled in, in place of the example's.
DOC="$SRC/docs/secondaries.md"
"$PY" "$HERE/docs_block.py" "$DOC" "toml vpced.toml (Knot, NSD)" --toml-into "$CONF" "KNOT_PORT=$KNOT_PORT" \
  "NSD_PORT=$NSD_PORT" "KNOT_VPC_PORT=$KNOT_VPC_PORT" || die "cannot take [transfer] from $DOC into $CONF"

# The private zone exists once orders' name is verified.
describe_to "$DIR/describe.json"
seed_verified orders
start_vpced
SERIAL=$(qdig +short "$APEX" SOA | awk '{print $3}')
check_match "vpced serial" '^[0-9]+$' "$SERIAL"
check_eq "private zone in vpc-0a000001's view" "NOERROR" "$(dig_status "$(dig +time=2 +tries=1 -b 127.16.0.10 @127.0.0.1 -p "$PORT" $PRIV SOA)")"

# --- refusals: no records without the right key from the right source ----------------------------------------
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" "$APEX" AXFR 2>&1)
check_contains "AXFR without key" "REFUSED" "$out"
check_eq "AXFR without key: no records" "0" "$(grep -c "IN[[:space:]]*A[[:space:]]" <<<"$out")"
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "hmac-sha256:pub-key:$(openssl rand -base64 32)" "$APEX" AXFR 2>&1)
check_contains "AXFR with a wrong secret" "BADSIG" "$out"
check_eq "wrong secret: no records" "0" "$(grep -c "IN[[:space:]]*A[[:space:]]" <<<"$out")"
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "hmac-sha256:other-key:$PUB_SECRET" "$APEX" AXFR 2>&1)
check_contains "AXFR with an unknown key" "BADKEY" "$out"
out=$(kdig +time=2 +retry=0 -b 127.0.0.2 @127.0.0.1 -p "$PORT" -y "hmac-sha256:pub-key:$PUB_SECRET" "$APEX" AXFR 2>&1)
check_contains "AXFR from outside transfer.allow" "REFUSED" "$out"
check_eq "outside ACL: no records" "0" "$(grep -c "IN[[:space:]]*A[[:space:]]" <<<"$out")"
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "hmac-sha256:pub-key:$PUB_SECRET" $PRIV AXFR 2>&1)
check_contains "private zone with the public key" "REFUSED" "$out"
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "hmac-sha256:vpc-a-key:$VPC_SECRET" $PRIV AXFR 2>&1)
check_match "private zone with the VPC's key" "$(re_escape "$PRIV.")[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A" "$out"
# dig and kdig hide the header of an IXFR answer: a raw UDP query shows TC (retry over TCP).
tc=$("$PY" - "$PORT" "$APEX" <<'EOF'
import socket, struct, sys
port, apex = int(sys.argv[1]), sys.argv[2]
q = struct.pack(">HHHHHH", 0x1234, 0, 1, 0, 1, 0) + b"".join(bytes([len(l)]) + l.encode() for l in apex.split(".")) + b"\0"
q += struct.pack(">HH", 251, 1)
q += b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, 0, 22) + b"\0\0" + struct.pack(">IIIII", 1, 0, 0, 0, 0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, ("127.0.0.1", port))
r = s.recv(512)
print("tc" if r[2] & 0x02 else "no-tc", struct.unpack(">H", r[6:8])[0])
EOF
)
check_eq "IXFR over UDP: TC, no records" "tc 0" "$tc"

# --- secondaries ------------------------------------------------------------------------------------------
# The three secondaries are the docs' configs, placeholders filled in: Knot and NSD follow the public zone with
# the public key; the VPC's Knot follows its private zone with the VPC's key, and sends its SOA queries from an
# address in vpc-0a000001's dns_clients so that they see that VPC's view.
[ "$APEX" == "us-east-1.vpce.amazonaws.com" ] || die "the docs' secondaries follow us-east-1.vpce.amazonaws.com, the test's apex is $APEX"
mkdir -p "$DIR/knot" "$DIR/knot-vpc-a" "$DIR/nsd"
"$PY" "$HERE/docs_block.py" "$DOC" "yaml knot.conf" "$DIR/knot/knot.conf" "\$DIR=$DIR" "KNOT_PORT=$KNOT_PORT" \
  "VPCED_PORT=$PORT" "PUB_SECRET=$PUB_SECRET" || die "cannot take knot.conf from $DOC"
"$PY" "$HERE/docs_block.py" "$DOC" "yaml knot-vpc-a.conf" "$DIR/knot-vpc-a/knot.conf" "\$DIR=$DIR" \
  "KNOT_VPC_PORT=$KNOT_VPC_PORT" "VPCED_PORT=$PORT" "VPC_SECRET=$VPC_SECRET" || die "cannot take knot-vpc-a.conf from $DOC"
"$PY" "$HERE/docs_block.py" "$DOC" "yaml nsd.conf" "$DIR/nsd/nsd.conf" "\$DIR=$DIR" "NSD_PORT=$NSD_PORT" \
  "VPCED_PORT=$PORT" "PUB_SECRET=$PUB_SECRET" || die "cannot take nsd.conf from $DOC"
knotd -c "$DIR/knot/knot.conf" 2>>"$DIR/knot/knot.log" &
KNOT_PID=$!
knotd -c "$DIR/knot-vpc-a/knot.conf" 2>>"$DIR/knot-vpc-a/knot.log" &
KNOT_VPC_PID=$!
nsd -d -c "$DIR/nsd/nsd.conf" 2>>"$DIR/nsd/nsd.log" &
NSD_PID=$!

# wait_serial NAME PORT ZONE SERIAL: polls (≤ ~15 s) until the secondary serves ZONE's SOA with SERIAL.
wait_serial() {
  local got=""
  for _ in $(seq 1 75); do
    got=$(kdig +time=1 +retry=0 +short @127.0.0.1 -p "$2" "$3" SOA 2>/dev/null | awk '{print $3}')
    [ "$got" == "$4" ] && { pass; return 0; }
    sleep 0.2   # poll interval; the loop ends on the first match
  done
  fail "$1: $3 SOA serial '$got', expected $4 within ~15 s"
}
wait_serial "knot (public)" "$KNOT_PORT" "$APEX" "$SERIAL"
wait_serial "nsd (public)" "$NSD_PORT" "$APEX" "$SERIAL"
wait_serial "knot (vpc-0a000001)" "$KNOT_VPC_PORT" "$PRIV" "$SERIAL"

# same_answers NAME PORT ZONE [dig source options]: every A owner of vpced's AXFR of ZONE is answered alike.
same_answers() {
  local name=$1 port=$2 zone=$3 key=$4 src=$5 owners o a b bad=0 n=0
  owners=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "$key" "$zone" AXFR 2>/dev/null |
           awk '$4 == "A" {print $1}' | sort -u)
  [ -n "$owners" ] || { fail "$name: vpced's AXFR of $zone has no A records"; return; }
  for o in $owners; do
    n=$((n + 1))
    a=$(dig +short +time=2 +tries=1 -b "$src" @127.0.0.1 -p "$PORT" "$o" A | sort | paste -sd,)
    b=$(dig +short +time=2 +tries=1 @127.0.0.1 -p "$port" "$o" A | sort | paste -sd,)
    [ "$a" == "$b" ] || { bad=1; fail "$name: $o A: vpced '$a', secondary '$b'"; }
  done
  [ $bad -eq 0 ] && pass
  [ "$n" -gt 0 ] || fail "$name: no names compared"
}
same_answers "knot (public)" "$KNOT_PORT" "$APEX" "hmac-sha256:pub-key:$PUB_SECRET" 127.0.0.1
same_answers "nsd (public)" "$NSD_PORT" "$APEX" "hmac-sha256:pub-key:$PUB_SECRET" 127.0.0.1
same_answers "knot (vpc-0a000001)" "$KNOT_VPC_PORT" "$PRIV" "hmac-sha256:vpc-a-key:$VPC_SECRET" 127.16.0.10

XFR_KEY="hmac-sha256:pub-key:$PUB_SECRET"
# xfr FILE TYPE: vpced's answer to a TSIG-signed AXFR or IXFR=SERIAL of the public zone, as kdig prints it.
xfr() { kdig +time=5 +retry=0 @127.0.0.1 -p "$PORT" -y "$XFR_KEY" "$APEX" "$2" >"$1" 2>&1; }
xfr "$DIR/axfr.$SERIAL" AXFR

# --- a change: the provider accepts reports-to-orders (pendingAcceptance → available) ------------------------
sed -i 's/^accepted = \["app-to-orders", "billing-to-orders"\]/accepted = ["app-to-orders", "billing-to-orders", "reports-to-orders"]/' "$CONF"
grep -q '"reports-to-orders"\]' "$CONF" || die "cannot accept reports-to-orders in $CONF"
kill -HUP "$PID"
NEW=""
for _ in $(seq 1 50); do
  NEW=$(qdig +short "$APEX" SOA | awk '{print $3}')
  [ -n "$NEW" ] && [ "$NEW" != "$SERIAL" ] && break
  sleep 0.2   # poll interval
done
check_true "serial grew after the change ($SERIAL → $NEW)" test "${NEW:-0}" -gt "$SERIAL"
wait_serial "knot (public) after NOTIFY" "$KNOT_PORT" "$APEX" "$NEW"
wait_serial "nsd (public) after NOTIFY" "$NSD_PORT" "$APEX" "$NEW"
wait_serial "knot (vpc-0a000001) after NOTIFY" "$KNOT_VPC_PORT" "$PRIV" "$NEW"
same_answers "knot (public) after the change" "$KNOT_PORT" "$APEX" "hmac-sha256:pub-key:$PUB_SECRET" 127.0.0.1
same_answers "nsd (public) after the change" "$NSD_PORT" "$APEX" "hmac-sha256:pub-key:$PUB_SECRET" 127.0.0.1
check_contains "knot asked IXFR and got it" "IXFR, incoming" "$(cat "$DIR/knot/knot.log")"
for f in "$DIR/knot/knot.log" "$DIR/knot-vpc-a/knot.log"; do   # the docs' storage paths work as they are
  check_true "$f: every transfer stored" bash -c '! grep -E "not exists\)|failed to store" "$1" | grep -v "zone file"' _ "$f"
done
grep -q "NOTIFY\|notify, incoming" "$DIR/knot/knot.log" && pass || fail "knot logged no incoming NOTIFY"

# --- IXFR after one change carries only that change ------------------------------------------------------
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "hmac-sha256:pub-key:$PUB_SECRET" "$APEX" IXFR="$SERIAL" 2>&1)
nsoa=$(grep -c "IN[[:space:]]*SOA" <<<"$out")
check_eq "IXFR from the previous serial: 4 SOAs (new, old, new, new)" "4" "$nsoa"
added=$(awk '$4 == "A"' <<<"$out" | wc -l)
total=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "hmac-sha256:pub-key:$PUB_SECRET" "$APEX" AXFR 2>&1 | awk '$4 == "A"' | wc -l)
check_true "IXFR carries fewer A records ($added) than the zone ($total)" test "$added" -gt 0 -a "$added" -lt "$total"
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" -y "hmac-sha256:pub-key:$PUB_SECRET" "$APEX" IXFR=12345 2>&1)
check_eq "IXFR from an unknown serial falls back to the whole zone" "$total" "$(awk '$4 == "A"' <<<"$out" | wc -l)"

# Exactly the change, before and after a restart: the history is kept in state_dir (ixfr-history.json).
xfr "$DIR/axfr.$NEW" AXFR
xfr "$DIR/ixfr.$SERIAL" IXFR="$SERIAL"
py_checks "$HERE/ixfr_diff.py" "$DIR/axfr.$SERIAL" "$DIR/axfr.$NEW" "$DIR/ixfr.$SERIAL" "$SERIAL" "$NEW" "IXFR before a restart"
check_true "state_dir holds the IXFR history" test -s "$DIR/state/ixfr-history.json"
stop_vpced
start_vpced
check_eq "serial after a restart" "$NEW" "$(qdig +short "$APEX" SOA | awk '{print $3}')"
check_contains "history loaded at start" "IXFR history: 1 version(s) loaded" "$(cat "$LOG")"
xfr "$DIR/ixfr.$SERIAL.restarted" IXFR="$SERIAL"
py_checks "$HERE/ixfr_diff.py" "$DIR/axfr.$SERIAL" "$DIR/axfr.$NEW" "$DIR/ixfr.$SERIAL.restarted" "$SERIAL" "$NEW" \
  "IXFR after a restart"

# A change while vpced is stopped (reports-to-orders rejected again): the step to the new serial is computed
# at start from the records kept in the file, and the secondaries, told by the start-up NOTIFY, take an IXFR.
stop_vpced
sed -i 's/^accepted = \["app-to-orders", "billing-to-orders", "reports-to-orders"\]/accepted = ["app-to-orders", "billing-to-orders"]/' "$CONF"
grep -q '^accepted = \["app-to-orders", "billing-to-orders"\]' "$CONF" || die "cannot reject reports-to-orders in $CONF"
KNOT_LOG_AT=$(wc -c <"$DIR/knot/knot.log")
start_vpced
NEW2=$(qdig +short "$APEX" SOA | awk '{print $3}')
check_true "serial grew with a change while stopped ($NEW → $NEW2)" test "${NEW2:-0}" -gt "$NEW"
wait_serial "knot (public) after a restart" "$KNOT_PORT" "$APEX" "$NEW2"
wait_serial "nsd (public) after a restart" "$NSD_PORT" "$APEX" "$NEW2"
same_answers "knot (public) after a restart" "$KNOT_PORT" "$APEX" "$XFR_KEY" 127.0.0.1
same_answers "nsd (public) after a restart" "$NSD_PORT" "$APEX" "$XFR_KEY" 127.0.0.1
knot_new=$(tail -c +"$((KNOT_LOG_AT + 1))" "$DIR/knot/knot.log")
check_contains "knot took an IXFR after the restart" "IXFR, incoming, remote 127.0.0.1@$PORT, finished" "$knot_new"
check_contains "knot's IXFR went from $NEW to $NEW2" "serial $NEW -> $NEW2" "$knot_new"
[[ "$knot_new" != *"AXFR-style"* ]] && pass || fail "knot got an AXFR-style IXFR after the restart: $knot_new"
xfr "$DIR/axfr.$NEW2" AXFR
xfr "$DIR/ixfr.$NEW" IXFR="$NEW"
py_checks "$HERE/ixfr_diff.py" "$DIR/axfr.$NEW" "$DIR/axfr.$NEW2" "$DIR/ixfr.$NEW" "$NEW" "$NEW2" \
  "IXFR of a change made while stopped"
check_eq "IXFR over two changes: 6 SOAs" 6 "$(kdig +time=5 +retry=0 @127.0.0.1 -p "$PORT" -y "$XFR_KEY" "$APEX" \
  IXFR="$SERIAL" 2>&1 | grep -c "IN[[:space:]]*SOA")"

# A corrupt history file: vpced starts, says so, and answers IXFR with the whole zone.
stop_vpced
printf '{"format":1,"serial":' >"$DIR/state/ixfr-history.json"
start_vpced
check_contains "corrupt history: logged" "IXFR history: " "$(grep -i "starting with an empty history" "$LOG")"
total2=$(awk '$4 == "A"' "$DIR/axfr.$NEW2" | wc -l)
xfr "$DIR/ixfr.$NEW.corrupt" IXFR="$NEW"
check_eq "corrupt history: IXFR from $NEW is the whole zone" "$total2" "$(awk '$4 == "A"' "$DIR/ixfr.$NEW.corrupt" | wc -l)"
