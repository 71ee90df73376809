#!/usr/bin/env bash
# Reload under load (issue "Operating vpced"): a bounded query loop runs while the config is swapped and
# reloaded 20 times through the admin API; every answer must be right for the old or the new config, none
# may time out. Then a broken config: the reload fails with positioned errors, the old answers stay, and
# /metrics counts the failed reload.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config
start_vpced

# Two variants of the config: B also accepts reports-to-orders (its names appear), A does not.
cp "$CONF" "$DIR/a.toml"
sed 's/^accepted = \["app-to-orders", "billing-to-orders"\]/accepted = ["app-to-orders", "billing-to-orders", "reports-to-orders"]/' \
  "$CONF" >"$DIR/b.toml"
check_true "variant B differs from A" bash -c "! cmp -s '$DIR/a.toml' '$DIR/b.toml'"

# Allowed answers per name: stable endpoints have one answer in both variants; reports-to-orders is NXDOMAIN
# under A and its addresses under B.
cp "$DIR/b.toml" "$CONF"
describe_to "$DIR/b.json"
cp "$DIR/a.toml" "$CONF"
"$PY" - "$DIR/b.json" >"$DIR/expect.json" <<'PYEOF'
import json, sys
expect = {}
for e in json.load(open(sys.argv[1]))["VpcEndpoints"]:
    tag = next(t["Value"] for t in e["Tags"] if t["Key"] == "Name")
    addrs = sorted(n["PrivateIpAddress"] for n in e["NetworkInterfaces"])
    if tag == "reports-to-orders":
        expect[e["DnsEntries"][0]["DnsName"]] = [["NXDOMAIN"], addrs]
    elif e["State"] == "available":
        expect[e["DnsEntries"][0]["DnsName"]] = [addrs]
        expect[e["DnsEntries"][1]["DnsName"]] = [[e["NetworkInterfaces"][0]["PrivateIpAddress"]]]
print(json.dumps(expect))
PYEOF
check_match "expected answers cover several names" '"vpce-' "$(cat "$DIR/expect.json")"

"$PY" "$HERE/load.py" "$PORT" "$DIR/stop" "$DIR/expect.json" >"$DIR/load.out" 2>&1 &
LOADPID=$!
gen_before=$(api GET /v1/status | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')
ok_reloads=0
for i in $(seq 1 20); do
  if [ $((i % 2)) -eq 1 ]; then cp "$DIR/b.toml" "$CONF.new"; else cp "$DIR/a.toml" "$CONF.new"; fi
  mv "$CONF.new" "$CONF"   # atomic replace: the daemon never reads a half-written file
  out=$(api POST /v1/reload)
  if [[ "$out" == "200 "*'"ok": true'* ]]; then ok_reloads=$((ok_reloads + 1)); else fail "reload $i: $out"; fi
done
touch "$DIR/stop"
wait "$LOADPID"
check_eq "successful reloads" 20 "$ok_reloads"
gen_after=$(api GET /v1/status | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')
check_eq "snapshot generation moved by 20" "$((gen_before + 20))" "$gen_after"
load=$(tail -n 1 "$DIR/load.out")
grep '^FAIL:' "$DIR/load.out" >&2
read -r _ sent _ ok _ wrong _ timeouts _ <<<"$load"
check_match "load summary" '^sent [0-9]+ ok [0-9]+ wrong [0-9]+ timeouts [0-9]+' "$load"
check_true "queries sent during the reloads ($sent)" test "${sent:-0}" -ge 200
check_eq "wrong answers during reloads" 0 "$wrong"
check_eq "timeouts during reloads" 0 "$timeouts"
check_eq "every query answered right" "$sent" "$ok"
echo "reload under load: $load across 20 reloads"
# Every replaced snapshot is freed once nothing serves from it (the load has stopped): none stays in memory.
retained=""
for _ in $(seq 50); do
  retained=$(api GET /metrics | sed -n 's/.* vpced_snapshots_retained \([0-9]*\) .*/\1/p')
  [ "$retained" = 0 ] && break
  sleep 0.1
done
check_eq "replaced snapshots still in memory after the reloads" 0 "$retained"

# --- a broken config keeps the last good one --------------------------------------------------------------
cp "$DIR/b.toml" "$CONF"
api POST /v1/reload >/dev/null
name=$("$PY" -c 'import json,sys; print(next(k for k in json.load(open(sys.argv[1])) if len(json.load(open(sys.argv[1]))[k]) == 1))' "$DIR/expect.json")
before=$(qdig +short "$name" A | sort | paste -sd,)
sed -i 's/^ttl = 60/ttl = "sixty"/' "$CONF"
out=$(api POST /v1/reload)
check_match "broken reload answers 422" '^422 ' "$out"
check_match "broken reload names file:line:col" "example.toml:[0-9]+:[0-9]+: error: server.ttl" "$out"
check_eq "answers after a failed reload" "$before" "$(qdig +short "$name" A | sort | paste -sd,)"
metrics=$(api GET /metrics)
check_match "metrics count the failed reload" 'vpced_config_reloads_total\{result="failure"\} 1' "$metrics"
check_match "metrics show the last reload failed" 'vpced_config_last_reload_successful 0' "$metrics"
check_contains "log has the positioned error" "server.ttl" "$(cat "$LOG")"
check_contains "log says it keeps serving" "still serving serial" "$(cat "$LOG")"

# --- "changed" in the reload answer -------------------------------------------------------------------------
# The same text, then a comment: nothing changed. A rejection of the pending endpoint: the zone stays (neither
# state has DNS names, so the serial stays too) but `describe` differs: changed.
cp "$DIR/a.toml" "$CONF"
out=$(api POST /v1/reload)
check_match "reload back to A" '^200 .*"ok": true' "$out"
serial_a=$(sed -n 's/.*"serial": \([0-9]*\).*/\1/p' <<<"$out")
check_match "reload of the same text: changed false" '"changed": false' "$(api POST /v1/reload)"
printf '\n# a comment only\n' >>"$CONF"
check_match "reload after a comment-only edit: changed false" '"changed": false' "$(api POST /v1/reload)"
rejected_before=$(api GET /v1/describe | grep -o '"State": *"rejected"' | wc -l)
sed -i 's/^rejected = \["legacy-to-orders"\]/rejected = ["legacy-to-orders", "reports-to-orders"]/' "$CONF"
out=$(api POST /v1/reload)
check_match "reload rejecting the pending endpoint: changed true" '"changed": true' "$out"
check_match "... with the serial unchanged ($serial_a)" "\"serial\": $serial_a[^0-9]" "$out"
check_eq "describe shows one more rejected endpoint" "$((rejected_before + 1))" \
  "$(api GET /v1/describe | grep -o '"State": *"rejected"' | wc -l)"
