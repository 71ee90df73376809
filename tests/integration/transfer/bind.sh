#!/usr/bin/env bash
# BIND 9.18 as a split-horizon secondary of vpced (docs/secondaries.md, "BIND: one server, one view per key"):
# the docs' named.conf, run as it is (placeholders filled in), follows the public zone with the public key and
# vpc-0a000001's private zone (and the public zone) in a view keyed by that VPC's TSIG key. BIND signs its SOA
# refresh and transfer queries with the key; vpced answers them from the key's view, signed. vpced's NOTIFY,
# signed per key, lands in the matching view; after a config change both views serve the new data within
# seconds; every name of `vpced describe` answers from each BIND view as from vpced with the same key.
# usage: bind.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

command -v named >/dev/null || die "named is not installed (scripts/install-deps.sh: bind9)"
command -v named-checkconf >/dev/null || die "named-checkconf is not installed (scripts/install-deps.sh: bind9)"
PRIV=api.orders.example.com
NAMED_PID=""
on_exit() {
  local rc=$?
  stop_by_pid named "$NAMED_PID"
  if [ "$FAILS" -gt 0 ] && [ -s "$DIR/bind/named.log" ]; then
    echo "---- named.log ----" >&2
    tail -n 40 "$DIR/bind/named.log" >&2
  fi
  (exit $rc)
  finish
}
trap on_exit EXIT

setup_config
BIND_PORT=$(free_port) || die "no free port"
[ "$BIND_PORT" != "$PORT" ] || die "free_port returned the same port twice"
PUB_SECRET=$(openssl rand -base64 32)
VPC_SECRET=$(openssl rand -base64 32)
echo "$PUB_SECRET" >"$DIR/pub.key"
echo "$VPC_SECRET" >"$DIR/vpc-a.key"
chmod 600 "$DIR/pub.key" "$DIR/vpc-a.key"

# vpced's [transfer]: the docs' block for BIND, port filled in, in place of the example's.
"$PY" "$HERE/docs_block.py" "$SRC/docs/secondaries.md" "toml vpced.toml (BIND)" --toml-into "$CONF" \
  "BIND_PORT=$BIND_PORT" || die "cannot take [transfer] from docs/secondaries.md into $CONF"

describe_to "$DIR/describe.json"
seed_verified orders
start_vpced
SERIAL=$(qdig +short "$APEX" SOA | awk '{print $3}')
check_match "vpced serial" '^[0-9]+$' "$SERIAL"
PUBK="hmac-sha256:pub-key:$PUB_SECRET"
VPCK="hmac-sha256:vpc-a-key:$VPC_SECRET"

# --- vpced's answers to signed queries (what BIND's refresh needs) ----------------------------------------
out=$(qdig -y "$VPCK" "$PRIV" SOA)
check_eq "signed with vpc-a-key from 127.0.0.1: the VPC's view" "NOERROR" "$(dig_status "$out")"
check_contains "the answer is signed" "TSIG PSEUDOSECTION" "$out"
check_true "dig verified vpced's signature (output: $out)" bash -c '! grep -qi "verify\|tsig.*fail" <<<"$1"' _ "$out"
check_eq "unsigned from 127.0.0.1: the public view" "REFUSED" "$(dig_status "$(qdig "$PRIV" SOA)")"
out=$(qdig -y "hmac-sha256:pub-key:$(openssl rand -base64 32)" "$APEX" SOA)
check_eq "wrong secret → NOTAUTH" "NOTAUTH" "$(dig_status "$out")"
check_eq "wrong secret: no answer" "0" "$(dig_count ANSWER "$out")"

# --- BIND from the docs ------------------------------------------------------------------------------------
mkdir -p "$DIR/bind"
"$PY" "$HERE/docs_block.py" "$SRC/docs/secondaries.md" named.conf "$DIR/bind/named.conf" "\$DIR=$DIR" \
  "BIND_PORT=$BIND_PORT" "VPCED_PORT=$PORT" "PUB_SECRET=$PUB_SECRET" "VPC_SECRET=$VPC_SECRET" ||
  die "cannot take named.conf from docs/secondaries.md"
out=$(named-checkconf "$DIR/bind/named.conf" 2>&1)
check_eq "named-checkconf on the docs' config" "" "$out"
named -g -c "$DIR/bind/named.conf" >"$DIR/bind/named.log" 2>&1 &
NAMED_PID=$!

# serial_of PORT ZONE [KEY]: the SOA serial served at PORT for ZONE, to an unsigned query or one signed with KEY
# (the key picks the view on both servers).
serial_of() {
  dig +time=1 +tries=1 +norec ${3:+-y "$3"} @127.0.0.1 -p "$1" "$2" SOA 2>/dev/null |
    awk '$4 == "SOA" && $1 !~ /^;/ {print $7}' | head -n 1
}
# wait_serial WHAT ZONE MIN [KEY]: polls (≤ ~15 s) until BIND serves ZONE with a serial of at least MIN, the
# first serial that holds the content expected. (Later serials may come from target health changes; a zone
# whose content they leave alone keeps its older serial on the secondary, docs/secondaries.md.)
wait_serial() {
  local got=""
  for _ in $(seq 1 75); do
    kill -0 "$NAMED_PID" 2>/dev/null || { fail "$1: named exited"; return 1; }
    got=$(serial_of "$BIND_PORT" "$2" "${4:-}")
    [ -n "$got" ] && [ "$got" -ge "$3" ] && { pass; return 0; }
    sleep 0.2   # poll interval; the loop ends on the first match
  done
  fail "$1: BIND serves $2 serial '$got', expected at least $3 within ~15 s"
  return 1
}

# answer PORT KEY NAME TYPE: "STATUS|sorted answer records" of one query ("-" for no key); a signed answer
# whose TSIG dig cannot verify is "UNVERIFIED". The SOA serial is left out: a zone that a later serial did not
# change keeps its older serial on the secondary (the serials are checked by wait_serial).
answer() {
  local out
  out=$(dig +time=2 +tries=1 +norec $([ "$2" != "-" ] && echo "-y $2") @127.0.0.1 -p "$1" "$3" "$4" 2>&1)
  if [ "$2" != "-" ] && ! grep -q "TSIG PSEUDOSECTION" <<<"$out"; then echo "UNSIGNED"; return; fi
  if grep -qi "couldn't verify\|tsig verify failure\|expected a TSIG" <<<"$out"; then echo "UNVERIFIED"; return; fi
  printf '%s|%s\n' "$(dig_status "$out")" \
    "$(awk '/^;; ANSWER SECTION:/ {a = 1; next} /^$/ {a = 0} a && !/^;/ {if ($4 == "SOA") $7 = "SERIAL"; print}' <<<"$out" |
       tr -s ' \t' ' ' | sort | paste -sd,)"
}
# names: every DNS name of `vpced describe` (the JSON in $1), the zone apexes, and a name under the apex
# that does not exist.
names() {
  "$PY" - "$1" "$APEX" "$PRIV" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
names = set(sys.argv[2:]) | {"no-such-name." + sys.argv[2]}
for s in d["ServiceConfigurations"]:
    names.update(s.get("BaseEndpointDnsNames") or [])
    if s.get("PrivateDnsName"):
        names.add(s["PrivateDnsName"])
for e in d["VpcEndpoints"]:
    names.update(x["DnsName"] for x in e.get("DnsEntries") or [])
print("\n".join(sorted(n.rstrip(".").lower() for n in names)))
PYEOF
}
# same_answers WHAT KEY DESCRIBE_JSON: every name asked A, and the apexes SOA and NS, answer alike from vpced
# and from BIND, both asked with KEY ("-": unsigned, BIND's public view, vpced's view of 127.0.0.1). A target
# health change may move vpced's zones while BIND's transfer is under way: a round with differences is
# repeated after 1 s, at most 3 rounds; differences that stay fail.
same_answers() {
  local what=$1 key=$2 k=${2#-} n nonempty bad name t a b round diffs
  for round in 1 2 3; do
    n=0 nonempty=0 bad=0 diffs=""
    while read -r name t; do
      n=$((n + 1))
      a=$(answer "$PORT" "$key" "$name" "$t")
      b=$(answer "$BIND_PORT" "$key" "$name" "$t")
      [ "$a" == "$b" ] || { bad=$((bad + 1)); diffs+="$name $t: vpced '$a', bind '$b'"$'\n'; }
      [[ "$a" == NOERROR\|?* ]] && nonempty=$((nonempty + 1))
    done < <(names "$3" | awk '{print $1, "A"}'; printf '%s SOA\n%s NS\n' "$APEX" "$APEX"
             [ "$k" == "$VPCK" ] && printf '%s SOA\n%s NS\n' "$PRIV" "$PRIV")
    [ "$bad" -eq 0 ] && break
    echo "$what: round $round: $bad answers differ; again in 1 s"$'\n'"$diffs"
    [ "$round" -lt 3 ] && sleep 1   # a bounded wait for a transfer under way, not a synchronisation
  done
  check_eq "$what: answers that differ" "" "$diffs"
  check_true "$what: some answers carry records ($nonempty of $n)" test "$nonempty" -gt 5
  echo "$what: $n answers compared, $nonempty with records, $bad different (round $round)"
}

wait_serial "bind public view: public zone" "$APEX" "$SERIAL"
wait_serial "bind vpc-0a000001 view: public zone" "$APEX" "$SERIAL" "$VPCK"
wait_serial "bind vpc-0a000001 view: private zone" "$PRIV" "$SERIAL" "$VPCK"
check_eq "the private zone is not in BIND's public view" "REFUSED" \
  "$(dig_status "$(dig +time=2 +tries=1 @127.0.0.1 -p "$BIND_PORT" "$PRIV" SOA)")"
check_match "BIND's transfer of the private zone, signed with vpc-a-key" \
  "zone $(re_escape "$PRIV")/IN/vpc-0a000001: transferred serial [0-9]+: TSIG 'vpc-a-key'" "$(cat "$DIR/bind/named.log")"
same_answers "public view" - "$DIR/describe.json"
same_answers "vpc-0a000001 view" "$VPCK" "$DIR/describe.json"

# --- a change: app-to-orders leaves us-east-1c (both zones change), reports-to-orders is accepted -----------
"$PY" - "$CONF" <<'PYEOF' || die "cannot edit $CONF"
import re, sys, tomllib
conf = sys.argv[1]
t = open(conf).read()
t2 = t.replace('accepted = ["app-to-orders", "billing-to-orders"]',
               'accepted = ["app-to-orders", "billing-to-orders", "reports-to-orders"]', 1)
t2 = re.sub(r'(name = "app-to-orders"(?:\n[^\[].*)*?\nsubnets = )\["subnet-0a00001a", "subnet-0a00001b", "subnet-0a00001c"\]',
            r'\1["subnet-0a00001a", "subnet-0a00001b"]', t2, count=1)
if t2.count("reports-to-orders\"]") != 1 or t2.count('["subnet-0a00001a", "subnet-0a00001b"]') != 1:
    raise SystemExit("the change did not apply")
tomllib.loads(t2)
open(conf, "w").write(t2)
PYEOF
priv_a() { qdig +short -y "$VPCK" "$PRIV" A | grep -v TSIG | sort | paste -sd,; }
BEFORE_PRIV=$(priv_a)
LOG_LINES=$(wc -l <"$DIR/bind/named.log")
kill -HUP "$PID"
# The reload is in once the private zone's records change; NEW is the serial read with them.
AFTER_PRIV="$BEFORE_PRIV" NEW=""
for _ in $(seq 1 50); do
  AFTER_PRIV=$(priv_a)
  NEW=$(serial_of "$PORT" "$PRIV" "$VPCK")
  [ -n "$AFTER_PRIV" ] && [ "$AFTER_PRIV" != "$BEFORE_PRIV" ] && break
  sleep 0.2   # poll interval
done
check_true "the private zone changed ($BEFORE_PRIV → $AFTER_PRIV)" test "$BEFORE_PRIV" != "$AFTER_PRIV"
check_true "serial grew after the change ($SERIAL → $NEW)" test "${NEW:-0}" -gt "$SERIAL"
# BIND's SOA refresh is 3600 s: only NOTIFY brings the new serial within seconds.
wait_serial "bind public view after NOTIFY" "$APEX" "$NEW"
wait_serial "bind vpc-0a000001 view after NOTIFY: public zone" "$APEX" "$NEW" "$VPCK"
wait_serial "bind vpc-0a000001 view after NOTIFY: private zone" "$PRIV" "$NEW" "$VPCK"
log=$(tail -n +"$((LOG_LINES + 1))" "$DIR/bind/named.log")   # what named logged since the change
check_match "named took a signed NOTIFY in the public view" \
  "pub-key: view public: received notify for zone '$(re_escape "$APEX")'" "$log"
check_match "named took a signed NOTIFY for the VPC's private zone in its view" \
  "vpc-a-key: view vpc-0a000001: received notify for zone '$(re_escape "$PRIV")'" "$log"
check_match "named took a signed NOTIFY for the public zone in the VPC's view" \
  "vpc-a-key: view vpc-0a000001: received notify for zone '$(re_escape "$APEX")'" "$log"
check_true "no NOTIFY was refused or went to the wrong view" bash -c '! grep -q "notify.*\(refused\|not authoritative\)" <<<"$1"' _ "$log"
api GET /v1/describe | cut -d' ' -f2- >"$DIR/describe.after.json"
same_answers "public view after the change" - "$DIR/describe.after.json"
same_answers "vpc-0a000001 view after the change" "$VPCK" "$DIR/describe.after.json"
