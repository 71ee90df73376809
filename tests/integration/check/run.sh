#!/usr/bin/env bash
# `vpced check` (design §3, §8): the example passes with one `ok:` line; a copy with several independent
# mistakes exits 1 with one `FILE:LINE:COL: error:` line per mistake, at the mistake's position.
# usage: run.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config

# --- the example as shipped ------------------------------------------------------------------------------------
"$VPCED" check -c "$CONF" >"$DIR/ok.out" 2>"$DIR/ok.err"
rc=$?
check_eq "vpced check on the example: exit status (stderr: $(cat "$DIR/ok.err"))" 0 "$rc"
check_eq "vpced check on the example: stdout lines" 1 "$(wc -l <"$DIR/ok.out")"
read -r n_services n_vpcs n_endpoints <<<"$("$PY" -c '
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
print(len(c.get("services", [])), len(c.get("vpcs", [])), len(c.get("endpoints", [])))' "$CONF")"
check_match "vpced check on the example: ok line" \
  "^ok: $(re_escape "$CONF"): $n_services services, $n_vpcs vpcs, $n_endpoints endpoints" "$(cat "$DIR/ok.out")"
check_eq "vpced check on the example: no error on stderr" "" "$(grep -i error "$DIR/ok.err")"
check_true "vpced check writes no state (docs/state.md: \`vpced check\` never writes)" test ! -e "$DIR/state/identity.json"

# --- several independent mistakes ------------------------------------------------------------------------------
BROKEN="$DIR/broken.toml"
B=$(re_escape "$BROKEN")
mistakes=$("$PY" "$HERE/break.py" "$CONF" "$BROKEN") || die "break.py could not prepare $BROKEN"
n_mistakes=$(wc -l <<<"$mistakes")
check_true "break.py made at least 4 mistakes (got $n_mistakes)" test "$n_mistakes" -ge 4

"$VPCED" check -c "$BROKEN" >"$DIR/broken.out" 2>"$DIR/broken.err"
rc=$?
check_eq "vpced check on the broken copy: exit status" 1 "$rc"
check_eq "vpced check on the broken copy: nothing on stdout" "" "$(cat "$DIR/broken.out")"
errors=$(grep -E "^$B:[0-9]+:[0-9]+: error: " "$DIR/broken.err")
while IFS=$'\t' read -r -u 3 line col needle what; do
  at_line=$(grep -E "^$B:$line:[0-9]+: error: " <<<"$errors")
  n=$(grep -c . <<<"$at_line")
  check_eq "$what: error lines at $BROKEN:$line (stderr: $(cat "$DIR/broken.err"))" 1 "$n"
  check_contains "$what: the error at line $line names the mistake" "$needle" "$at_line"
  check_eq "$what: error column" "$BROKEN:$line:$col:" "$(grep -oE "^$B:$line:[0-9]+:" <<<"$at_line" | head -n 1)"
done 3<<<"$mistakes"
# No error lines anywhere else: each mistake is reported once, with no cascades.
mistake_lines=$(cut -f1 <<<"$mistakes" | paste -sd'|' -)
others=$(grep -vE "^$B:($mistake_lines):" <<<"$errors")
check_eq "error lines at lines without a mistake" "" "$others"
# Every stderr line is either a positioned error or the closing count.
stray=$(grep -vE "^$B:[0-9]+:[0-9]+: error: |^$B: [0-9]+ errors?$" "$DIR/broken.err")
check_eq "stderr lines that are neither FILE:LINE:COL: error: nor the error count" "" "$stray"

# --- a TOML syntax error: reported at its line, exit 1 -----------------------------------------------------------
SYNTAX="$DIR/syntax.toml"
syntax_line=$(grep -n '^name = ' "$CONF" | sed -n 2p | cut -d: -f1)
[ -n "$syntax_line" ] || die "no second 'name = ' line in $CONF"
sed "${syntax_line}s/^name = \"\\([^\"]*\\)\"/name = \"\\1/" "$CONF" >"$SYNTAX"
check_true "the syntax-error copy differs from the example" test -n "$(diff "$CONF" "$SYNTAX")"
"$VPCED" check -c "$SYNTAX" >/dev/null 2>"$DIR/syntax.err"
rc=$?
check_eq "vpced check on an unterminated string: exit status" 1 "$rc"
check_match "vpced check on an unterminated string: error at line $syntax_line" \
  "(^|
)$SYNTAX:$syntax_line:[0-9]+: error: " "$(cat "$DIR/syntax.err")"

# --- a file that does not exist -----------------------------------------------------------------------------
"$VPCED" check -c "$DIR/missing.toml" >/dev/null 2>"$DIR/missing.err"
rc=$?
check_eq "vpced check on a missing file: exit status" 1 "$rc"
check_contains "vpced check on a missing file: names the file" "$DIR/missing.toml" "$(cat "$DIR/missing.err")"
check_contains "vpced check on a missing file: says error" "error:" "$(cat "$DIR/missing.err")"
