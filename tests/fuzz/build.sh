#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp) with clang 14 into BUILD_DIR (default build-fuzz/).
# No CMake and no Asio coroutines here (clang 14 cannot compile those): each target links only the pure
# sources it fuzzes, instrumented with libFuzzer, AddressSanitizer and UBSan. Objects are rebuilt when their
# source or any project header is newer. Usage: tests/fuzz/build.sh [BUILD_DIR]
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$SRC/build-fuzz}
CXX=${CXX_FUZZ:-clang++-14}
mkdir -p "$OUT/obj"

# clang 14 and its libFuzzer runtime (Debian 12: clang, libclang-rt-14-dev), installed when missing.
if ! command -v "$CXX" >/dev/null || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: installing clang libclang-rt-14-dev" >&2
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends clang libclang-rt-14-dev
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CXXFLAGS="-std=c++20 -g -O1 $SAN -I$SRC $(pkg-config --cflags ldns tomlplusplus libcrypto) -DVPCED_SOURCE_DIR=\"$SRC\""
LIBS="$(pkg-config --libs ldns tomlplusplus libcrypto)"

# The newest header of the project: an object older than it is rebuilt.
NEWEST_HEADER=$(find "$SRC/zones" "$SRC/dns" "$SRC/proxy" "$SRC/verify" "$SRC/cmd" -name '*.hpp' -printf '%T@ %p\n' |
  sort -n | tail -1 | cut -d' ' -f2)

compile() {  # compile SOURCE OBJECT EXTRA_FLAGS
  local src=$1 obj=$2 extra=$3
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$NEWEST_HEADER" -nt "$obj" ]; then
    echo "  CXX $(realpath --relative-to="$SRC" "$src")"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS $extra -c "$src" -o "$obj"
  fi
}

# The library sources, instrumented for coverage (fuzzer-no-link) but without libFuzzer's main.
LIB_SOURCES=(zones/*.cpp dns/wire.cpp dns/respond.cpp dns/tsig.cpp dns/transfer.cpp proxy/proxy_v2.cpp verify/message.cpp
             cmd/query_string.cpp)
objs=()
for rel in "${LIB_SOURCES[@]}"; do
  for s in $SRC/$rel; do
    o="$OUT/obj/$(realpath --relative-to="$SRC" "$s" | tr / _).o"
    compile "$s" "$o" "-fsanitize=fuzzer-no-link"
    objs+=("$o")
  done
done
rm -f "$OUT/libvpced_fuzz.a"
ar rcs "$OUT/libvpced_fuzz.a" "${objs[@]}"

for f in "$SRC"/tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$f" .cpp)
  compile "$f" "$OUT/obj/$name.o" "-fsanitize=fuzzer-no-link"
  if [ ! -x "$OUT/$name" ] || [ "$OUT/obj/$name.o" -nt "$OUT/$name" ] || [ "$OUT/libvpced_fuzz.a" -nt "$OUT/$name" ]; then
    echo "  LD  $name"
    # shellcheck disable=SC2086
    $CXX $SAN -fsanitize=fuzzer "$OUT/obj/$name.o" "$OUT/libvpced_fuzz.a" $LIBS -o "$OUT/$name"
  fi
done
