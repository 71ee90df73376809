#!/usr/bin/env bash
# Hardening: the state directory's file system fills up under a running vpced. state_dir is a 256 KiB tmpfs;
# once it is full, a reload that must write (a new endpoint needs identity) fails with an error naming the
# state file and ENOSPC, vpced keeps serving the last good snapshot, the state files stay intact (valid JSON,
# same identities) and no temporary file is left; once space is freed the same reload succeeds.
# Needs root and a private mount namespace (unshare -m); without them the test is reported skipped (77),
# never passed.
# usage: state_full.sh VPCED SOURCE_DIR

# Run in a private mount namespace: the tmpfs cannot outlive the test, even if it is killed.
if [ -z "${VPCED_STATE_FULL_NS:-}" ]; then
  if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
    echo "SKIP: state_full needs root and unshare -m to mount a small tmpfs"
    exit 77
  fi
  VPCED_STATE_FULL_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
probe=$(mktemp -d)
if ! mount -t tmpfs -o size=256k tmpfs "$probe" 2>/dev/null; then
  rmdir "$probe"
  echo "SKIP: state_full cannot mount a tmpfs here"
  exit 77
fi
umount "$probe"
rmdir "$probe"

. "$(dirname "$(readlink -f "$0")")/../lib.sh"

cleanup() {
  local rc=$?
  stop_vpced
  mountpoint -q "$DIR/state" && umount "$DIR/state"
  (exit $rc)
  finish
}
trap cleanup EXIT

setup_config
mkdir -p "$DIR/state"
mount -t tmpfs -o size=256k,mode=0755 tmpfs "$DIR/state" || die "cannot mount a tmpfs on $DIR/state"
start_vpced

soa_before=$(qdig +short "$APEX" SOA)
check_match "SOA answered before" '^ns1\.' "$soa_before"
"$PY" "$HERE/identities.py" "$DIR/state/identity.json" >"$DIR/ids.before" || die "no identity.json after start"
for f in "$DIR"/state/*.json; do cp "$f" "$DIR/before.$(basename "$f")"; done

# Fill the file system: dd stops at ENOSPC.
dd if=/dev/zero of="$DIR/state/fill" bs=4k 2>"$DIR/dd.err"
check_match "dd filled the state file system" 'No space left on device' "$(cat "$DIR/dd.err")"
check_eq "no space left" "0" "$(df --output=avail -B1 "$DIR/state" | tail -n 1 | tr -d ' ')"

cat >>"$CONF" <<'TOML'

[[endpoints]]
name = "hardening-full"
vpc = "vpc-0c000003"
service = "inventory"
principal = "arn:aws:iam::777788889999:root"
subnets = ["subnet-0c00003b"]
private_dns_enabled = false
TOML

out=$(api POST /v1/reload)
echo "measured: the reload on a full state_dir answered: $out"
check_match "reload needing a write answers 422" '^422 ' "$out"
check_match "the error names a state file" "$(re_escape "$DIR/state/")[a-z-]+\.json" "$out"
check_match "the error says ENOSPC" 'No space left on device' "$out"
log=$(cat "$LOG")
check_match "the log names the file and ENOSPC" "$(re_escape "$DIR/state/")[a-z-]+\.json[^ ]*: No space left on device" "$log"
check_match "the log says the reload failed and what still serves" 'reload \(admin API\) failed.*still serving serial' "$log"
check_true "vpced still running" kill -0 "$PID"
check_eq "SOA unchanged after the failed reload" "$soa_before" "$(qdig +short "$APEX" SOA)"
check_eq "SOA over TCP unchanged" "$soa_before" "$(qdig +tcp +short "$APEX" SOA)"
check_match "readyz still ready" '^200 ' "$(api GET /readyz)"
for f in "$DIR"/state/*.json; do
  check_true "$(basename "$f") still valid JSON" "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$f"
  check_true "$(basename "$f") unchanged" cmp -s "$DIR/before.$(basename "$f")" "$f"
done
check_eq "identities unchanged" "$(cat "$DIR/ids.before")" "$("$PY" "$HERE/identities.py" "$DIR/state/identity.json")"
check_eq "no temporary file left behind" "" "$(ls "$DIR/state" | grep -v -E '^(identity|verification|ixfr-history)\.json$|^lock$|^fill$')"

# SIGHUP takes the same path and must not stop vpced either.
kill -HUP "$PID"
for _ in $(seq 1 50); do
  grep -q 'reload (SIGHUP) failed' "$LOG" && break
  sleep 0.1  # poll interval: the reload runs on the control thread
done
check_match "SIGHUP reload fails" 'reload \(SIGHUP\) failed.*still serving serial' "$(cat "$LOG")"
check_true "... with ENOSPC logged again" test "$(grep -c 'No space left on device' "$LOG")" -ge 2
check_true "vpced survives a SIGHUP reload on a full state_dir" kill -0 "$PID"
check_eq "SOA unchanged after SIGHUP" "$soa_before" "$(qdig +short "$APEX" SOA)"

# Space again: the same reload succeeds, persists the new identity, keeps the old ones, and the serial moves.
rm -f "$DIR/state/fill"
out=$(api POST /v1/reload)
check_match "reload succeeds once space is freed" '^200 .*"ok": true' "$out"
check_match "the new endpoint's identity is persisted" '"hardening-full"' "$(cat "$DIR/state/identity.json")"
"$PY" "$HERE/identities.py" "$DIR/state/identity.json" >"$DIR/ids.after" || fail "identity.json after the reload"
check_eq "every earlier identity kept" "" "$(comm -23 "$DIR/ids.before" "$DIR/ids.after")"
check_true "the serial moved" test "$(qdig +short "$APEX" SOA)" != "$soa_before"
