#!/usr/bin/env bash
# `make fuzz`: builds every libFuzzer target (tests/fuzz/build.sh) and runs each for a bounded time on its seed
# corpus (tests/fuzz/corpus/<target>/, read-only here; new inputs go to BUILD_DIR/corpus/<target>/).
# A crash, leak, UBSan report or timeout fails the run; the input is left in BUILD_DIR/artifacts/: keep it as
# tests/fuzz/corpus/<target>/regress-<what> once fixed.
# Usage: tests/fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET] [TARGET...]
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(realpath -m "${1:-$SRC/build-fuzz}")
SECONDS_PER=${2:-20}
shift 2 2>/dev/null || shift $#
bash "$SRC/tests/fuzz/build.sh" "$OUT" || exit 1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$SRC"/tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

failed=0
mkdir -p "$OUT/artifacts" "$OUT/logs"
printf '%-22s %10s %8s %6s  %s\n' target execs exec/s cov result
for t in "${targets[@]}"; do
  mkdir -p "$OUT/corpus/$t"
  log="$OUT/logs/$t.log"
  # -timeout: one input taking a second is a hang; -rss_limit_mb: a few hundred MiB is already a bug here.
  "$OUT/$t" "$OUT/corpus/$t" "$SRC/tests/fuzz/corpus/$t" -max_total_time="$SECONDS_PER" -timeout=5 \
    -rss_limit_mb=1024 -max_len=65535 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc, see $log)"
    failed=1
    grep -m3 -E 'ERROR: |runtime error|SUMMARY' "$log" | sed 's/^/    /'
  fi
  printf '%-22s %10s %8s %6s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$result"
done
exit $failed
