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
