#!/usr/bin/env bash
# The docs stay true (style "Tests", CoreDNS readme_test.go): every ```toml block of README.md and docs/*.md
# that holds a [region] table is a complete config and must pass `vpced check`; the command-line usage the
# man pages describe works (help exits 0, a daemon that is not there is exit 3).
# usage: run.sh VPCED SOURCE_DIR VPCECTL
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

[ $# -ge 3 ] || die "usage: $0 VPCED SOURCE_DIR VPCECTL"
VPCECTL=$(readlink -f "$3")
[ -x "$VPCECTL" ] || die "vpcectl binary '$VPCECTL' is not executable"

# --- every complete config in the docs passes `vpced check` ---------------------------------------------------
listing=$("$PY" "$HERE/blocks.py" "$SRC" "$DIR/blocks") || die "blocks.py failed: $listing"
checked=0
while IFS=$'\t' read -r -u 3 file where; do
  [ -n "$file" ] || continue
  out=$("$VPCED" check -c "$file" 2>&1)
  rc=$?
  check_eq "vpced check on the config at $where: exit status (output: $out)" 0 "$rc"
  checked=$((checked + 1))
done 3< <(grep -v '^SKIPPED ' <<<"$listing")
skipped=$(sed -n 's/^SKIPPED //p' <<<"$listing")
echo "docs: checked $checked complete configs, skipped ${skipped:-?} fragments"
check_true "at least one complete config in README.md or docs/*.md (found $checked)" test "$checked" -gt 0

# --- vpced usage -------------------------------------------------------------------------------------------------
"$VPCED" >/dev/null 2>"$DIR/vpced-usage.err"
check_eq "vpced without a command: exit status" 2 "$?"
check_contains "vpced without a command: usage on stderr" "vpced check -c FILE" "$(cat "$DIR/vpced-usage.err")"

# --- vpcectl usage -----------------------------------------------------------------------------------------------
out=$("$VPCECTL" --help 2>&1)
check_eq "vpcectl --help: exit status" 0 "$?"
for sub in status reload describe explain; do
  check_contains "vpcectl --help lists $sub" "$sub" "$out"
  out_sub=$("$VPCECTL" "$sub" --help 2>&1)
  check_eq "vpcectl $sub --help: exit status" 0 "$?"
  check_contains "vpcectl $sub --help: usage line" "vpcectl $sub" "$out_sub"
done
out=$("$VPCECTL" --version 2>&1)
check_eq "vpcectl --version: exit status" 0 "$?"
check_match "vpcectl --version: output" "^vpcectl [0-9]+\.[0-9]+\.[0-9]+$" "$out"
"$VPCECTL" >/dev/null 2>&1
check_eq "vpcectl without a subcommand: exit status" 2 "$?"
"$VPCECTL" status --no-such-option >/dev/null 2>&1
check_eq "vpcectl status --no-such-option: exit status" 2 "$?"
"$VPCECTL" --admin not-an-address status >/dev/null 2>&1
check_eq "vpcectl --admin not-an-address: exit status" 2 "$?"

# Port 1 on loopback: nothing listens there, the connection is refused at once.
for sub in status reload describe "explain example.com"; do
  # shellcheck disable=SC2086 # $sub is a subcommand and its arguments
  err=$("$VPCECTL" --admin 127.0.0.1:1 $sub 2>&1 >/dev/null)
  check_eq "vpcectl --admin 127.0.0.1:1 $sub: exit status (stderr: $err)" 3 "$?"
  check_contains "vpcectl --admin 127.0.0.1:1 $sub: message" "vpced is not running at 127.0.0.1:1" "$err"
done
err=$(VPCED_ADMIN=127.0.0.1:1 "$VPCECTL" status 2>&1 >/dev/null)
check_eq "VPCED_ADMIN=127.0.0.1:1 vpcectl status: exit status" 3 "$?"
check_contains "VPCED_ADMIN=127.0.0.1:1 vpcectl status: the address comes from the environment" "127.0.0.1:1" "$err"
