#!/usr/bin/env bash
# Zero heap allocations per query (docs/performance.md): the bench config (1,000 services x 5 endpoints by
# default), its zone, and alloc_count over it; exits non-zero when respond() allocated in steady state.
# usage: bench/alloc.sh ALLOC_COUNT VPCED [SERVICES] [QUERIES]
set -eu
ALLOC=$(readlink -f "$1")
VPCED=$(readlink -f "$2")
SERVICES=${3:-1000}
QUERIES=${4:-2000000}
SRC=$(dirname "$(dirname "$(readlink -f "$0")")")
W=$(mktemp -d "${TMPDIR:-/tmp}/vpced-bench-alloc.XXXXXX")
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 "$SRC/bench/gen_config.py" "$W/bench.toml" "$W/state" "127.0.0.1:53" "$SERVICES" 5
"$VPCED" zone -c "$W/bench.toml" >"$W/zone.txt"
"$ALLOC" "$W/bench.toml" "$W/zone.txt" "$QUERIES"
