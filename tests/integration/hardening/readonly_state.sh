#!/usr/bin/env bash
# Hardening: the state directory turns read-only under a running vpced. A reload that must write (a new
# endpoint needs identity) fails with a clear error naming the state file, the admin API answers 422, and
# vpced keeps serving the last good snapshot; once the directory is writable again the same reload succeeds.
# As root, chmod alone does not stop writes: vpced then runs without CAP_DAC_OVERRIDE (setpriv).
# usage: readonly_state.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

if [ "$(id -u)" -eq 0 ]; then
  REAL_VPCED=$VPCED
  VPCED="$DIR/vpced-nodac"
  printf '#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search,-fowner -- "%s" "$@"\n' \
    "$REAL_VPCED" >"$VPCED"
  chmod +x "$VPCED"
fi
setup_config
start_vpced

soa_before=$(qdig +short "$APEX" SOA)
check_match "SOA answered before" '^ns1\.' "$soa_before"
cp "$DIR/state/identity.json" "$DIR/identity.before"

cat >>"$CONF" <<'TOML'

[[endpoints]]
name = "hardening-readonly"
vpc = "vpc-0c000003"
service = "inventory"
principal = "arn:aws:iam::777788889999:root"
subnets = ["subnet-0c00003b"]
private_dns_enabled = false
TOML

chmod 0555 "$DIR/state"
out=$(api POST /v1/reload)
check_match "reload needing a write answers 422" '^422 ' "$out"
check_match "the error names the state directory" "$(re_escape "$DIR/state")" "$out"
check_match "the error says why" '[Pp]ermission denied' "$out"
check_match "the log says the reload failed and what still serves" 'reload \(admin API\) failed.*still serving serial' "$(cat "$LOG")"
check_true "vpced still running" kill -0 "$PID"
check_eq "SOA unchanged after the failed reload" "$soa_before" "$(qdig +short "$APEX" SOA)"
check_true "identity.json untouched" cmp -s "$DIR/identity.before" "$DIR/state/identity.json"
check_eq "no temporary file left behind" "" "$(ls "$DIR/state" | grep -v -E '^(identity|verification|ixfr-history)\.json$|^lock$')"
status=$(api GET /v1/status)
check_match "status still answers" '^200 ' "$status"
check_match "readyz still ready" '^200 ' "$(api GET /readyz)"

# SIGHUP takes the same path and must not stop vpced either.
kill -HUP "$PID"
sleep 0.5
check_true "vpced survives a SIGHUP reload into a read-only state_dir" kill -0 "$PID"
check_eq "SOA unchanged after SIGHUP" "$soa_before" "$(qdig +short "$APEX" SOA)"

# Writable again: the same reload succeeds, persists the new identity, and the serial moves.
chmod 0755 "$DIR/state"
out=$(api POST /v1/reload)
check_match "reload succeeds once writable" '^200 .*"ok": true' "$out"
check_match "the new endpoint's identity is persisted" '"hardening-readonly"' "$(cat "$DIR/state/identity.json")"
check_true "the serial moved" test "$(qdig +short "$APEX" SOA)" != "$soa_before"
