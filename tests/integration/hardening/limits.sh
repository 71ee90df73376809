#!/usr/bin/env bash
# Hardening: input size limits. A config file over 64 MiB (or an endless one, /dev/zero) is refused by
# `vpced check` at once with a clear error; the admin API refuses bodies over 64 KiB and oversized headers
# and keeps answering (limits.py).
# usage: limits.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config

{ cat "$CONF"; head -c $((65 * 1024 * 1024)) /dev/zero | tr '\0' '#'; } >"$DIR/big.toml"
out=$(timeout 20 "$VPCED" check -c "$DIR/big.toml" 2>&1)
check_eq "check of a 65 MiB config exits 1" 1 "$?"
check_contains "the error says why" "larger than 64 MiB" "$out"
out=$(timeout 20 "$VPCED" check -c /dev/zero 2>&1)
check_eq "check of /dev/zero exits 1 (not a hang)" 1 "$?"
check_contains "the error names /dev/zero" "/dev/zero" "$out"

start_vpced
py_checks "$HERE/limits.py" "$ADMIN"
check_true "vpced still running" kill -0 "$PID"
