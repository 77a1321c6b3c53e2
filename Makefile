# Thin wrapper over CMake and the stack scripts. Every target installs missing Debian
# packages first, so `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)
PY := python3

.PHONY: all deps build test test-sanitize demo up down status bench clean

all: build

deps:
	bash tools/setup/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2

test-sanitize: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DOC_SANITIZE=ON >/dev/null
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j 2 -L unit

demo: build
	$(PY) tools/stack/stack.py demo

up: build
	$(PY) tools/stack/stack.py up

down:
	$(PY) tools/stack/stack.py down

status:
	$(PY) tools/stack/stack.py status

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) $(BUILD)-asan
