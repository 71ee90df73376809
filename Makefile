# The two commands of the README: `make run` and `make test`. Both install missing Debian packages first.
BUILD ?= build
CONFIG ?= conf/example.toml
JOBS ?= 2
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: deps build run test install clean

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

run: build
	bash scripts/demo.sh $(BUILD) $(CONFIG)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# Binaries to $(PREFIX)/bin, the systemd unit to $(PREFIX)/lib/systemd/system, docs and the example to
# $(PREFIX)/share/doc/vpced. DESTDIR stages the tree elsewhere (packaging): make install DESTDIR=/tmp/stage
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)

# Benchmarks (docs/performance.md). Each installs its own anchors (bench/install.sh: NSD, Knot, PowerDNS,
# dnsperf, haproxy, iperf3, socat) and stops every process it started by pid. Tunables: THREADS ROUNDS DURATION
# RATE.
.PHONY: bench-dns bench-relay bench-reload bench-verify
bench-dns: build
	bash bench/alloc.sh $(BUILD)/bench/alloc_count $(BUILD)/cmd/vpced
	bash bench/alloc_tcp.sh $(BUILD)/bench/liballoc_preload.so $(BUILD)/cmd/vpced
	bash bench/dns.sh $(BUILD)

bench-relay: build
	bash bench/relay.sh $(BUILD)

# Snapshot build, start-up, memory and reload at 100,000 endpoints, against Knot; 20 reloads under dnsperf.
bench-reload: build
	bash bench/reload.sh $(BUILD)

# One verification cycle of 10,000 private DNS names against a local NSD: all verified and published in < 10 s.
# Tunables: ROUNDS SERVICES DOMAINS TIMEOUT.
bench-verify: build
	bash bench/verify.sh $(BUILD)

# Fuzzing (docs/security.md): clang 14 libFuzzer + ASan/UBSan targets built in build-fuzz/, each run for
# FUZZ_TIME seconds on its seed corpus; a crash fails the target and leaves the input in build-fuzz/artifacts/.
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME ?= 20
.PHONY: fuzz test-asan
fuzz: deps
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_TIME)

# The whole ctest suite (unit + integration, the daemon included) built with AddressSanitizer and UBSan in
# build-asan/ (docs/security.md: timing, and the subset for CI: ASAN_CTEST_ARGS="-L unit" or "-E ...").
ASAN_BUILD ?= build-asan
ASAN_CTEST_ARGS ?=
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=None \
	  -DCMAKE_CXX_FLAGS="-O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) $(ASAN_CTEST_ARGS)
