#!/usr/bin/env bash
# Hardening: SIGKILL at random moments around reloads that write the state file. Each round starts vpced,
# adds an endpoint to the config (so the reload generates and persists identity and moves the serial), sends
# SIGHUP and kills -9 after 0–5 ms. Every restart must come up (a torn or corrupt
# identity.json would stop it), the file must be valid JSON, and every identity seen before must be unchanged
# (design §4: generated once, never changed while the object exists; docs/state.md: atomic writes).
# usage: kill_reload.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

ROUNDS=${ROUNDS:-12}
setup_config
# Each round appends one endpoint (identity to generate and persist, zone content and serial to move) and
# nothing is ever removed, so every identity seen once must stay.
extra_endpoint() {
  cat <<TOML

[[endpoints]]
name = "hardening-extra-$1"
vpc = "vpc-0c000003"
service = "inventory"
principal = "arn:aws:iam::777788889999:root"
subnets = ["subnet-0c00003b"]
private_dns_enabled = false
TOML
}
cp "$CONF" "$DIR/probe.toml"
extra_endpoint 0 >>"$DIR/probe.toml"
check_true "a config with an extra endpoint is valid" "$VPCED" check -c "$DIR/probe.toml"

start_vpced
"$PY" "$HERE/identities.py" "$DIR/state/identity.json" >"$DIR/ids.base" || die "no identity.json after start"

kills=0
persisted=0
for round in $(seq 1 "$ROUNDS"); do
  extra_endpoint "$round" >>"$CONF"
  kill -HUP "$PID"
  # A random moment: before the reload starts, while it builds, while it writes, or after.
  # A reload takes about a millisecond here: no pause at all, or 1–5 ms.
  delay=$((RANDOM % 6))
  [ "$delay" -eq 0 ] || sleep "0.00$delay"
  kill -KILL "$PID" 2>/dev/null && kills=$((kills + 1))
  wait "$PID" 2>/dev/null
  PID=""
  "$PY" "$HERE/identities.py" "$DIR/state/identity.json" >"$DIR/ids.now" ||
    { fail "round $round: identity.json is not valid after SIGKILL"; continue; }
  grep -q "endpoint hardening-extra-$round id" "$DIR/ids.now" && persisted=$((persisted + 1))
  # Every identity of the baseline is still there, unchanged (new ones may have been added).
  missing=$(comm -23 "$DIR/ids.base" "$DIR/ids.now")
  check_eq "round $round: identities kept across SIGKILL" "" "$missing"
  start_vpced  # dies when the state does not load
  "$PY" "$HERE/identities.py" "$DIR/state/identity.json" >"$DIR/ids.after" || fail "round $round: identity.json after restart"
  check_eq "round $round: restart keeps the identities on disk" "" "$(comm -23 "$DIR/ids.now" "$DIR/ids.after")"
  # Identities added by this round's endpoint become part of the baseline.
  sort -u "$DIR/ids.base" "$DIR/ids.after" >"$DIR/ids.merged" && mv "$DIR/ids.merged" "$DIR/ids.base"
done
echo "kill_reload: the reload had persisted before SIGKILL in $persisted of $ROUNDS rounds"
check_eq "rounds killed with SIGKILL" "$ROUNDS" "$kills"
check_match "the last extra endpoint has an identity" "endpoint hardening-extra-$ROUNDS id vpce-" "$(cat "$DIR/ids.base")"
# The answers after the last restart match the config on disk (a state that loads is also a state that serves).
check_eq "apex SOA answered after the last restart" "NOERROR" "$(dig_status "$(qdig "$APEX" SOA)")"
