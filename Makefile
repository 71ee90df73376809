# The two commands of the README: `make run` and `make test`. Both install missing Debian packages first.
BUILD ?= build
CONFIG ?= conf/example.toml
JOBS ?= 2

.PHONY: deps build run test clean

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/cmd/vpced run -c $(CONFIG)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

clean:
	rm -rf $(BUILD)
