# Trackway: the entry point for people and CI. CMake describes the build;
# the scripts under scripts/ do the work; this file only names the tasks.
#
# On a fresh Debian 12 machine, as root:   make run    or    make test
# Every target that compiles runs scripts/setup first, which installs the
# Debian packages the project needs (and prints nothing when they are there).

SHELL := /bin/bash
.DEFAULT_GOAL := build
MAKEFLAGS += --no-print-directory

# TEST_MODE and FUZZ_SECONDS reach the scripts from the environment or the
# command line (make exports command-line variables to recipes).

.PHONY: help setup build build-asan build-fuzz test conformance run bench \
	fuzz format format-check clean

help:
	@echo 'make build         release build in build/release (the default goal)'
	@echo 'make build-asan    ASan + UBSan build in build/asan'
	@echo 'make build-fuzz    libFuzzer build in build/fuzz (clang)'
	@echo 'make test          everything CI checks; ends with "N passed, N failed"'
	@echo '                   TEST_MODE=long make test: long variants,'
	@echo '                   tests see TW_TEST_LONG=1'
	@echo 'make conformance   release build, then the official JSON Schema suite'
	@echo 'make run           build, then show what runs today on sample data'
	@echo 'make bench         run every bench/*_bench.c'
	@echo 'make bench-NAME    run scripts/bench-NAME after a release build'
	@echo 'make fuzz          fuzz each target FUZZ_SECONDS (default 300)'
	@echo 'make format        lay out all C sources with clang-format'
	@echo 'make format-check  list the sources clang-format would change'
	@echo 'make setup         install the Debian packages the project needs'
	@echo 'make clean         remove build/'

setup:
	@scripts/setup

build: setup
	@scripts/build release

build-asan: setup
	@scripts/build asan

build-fuzz: setup
	@scripts/build fuzz

test: setup
	@scripts/test-all

# The JSON Schema Test Suite from the shared folder next to the source tree
# (TW_CONFORMANCE_DIR overrides); `make test` runs it too, as a ctest test.
conformance: build
	@build/release/schema_suite

run: build
	@scripts/run-sample

# Benchmarks are named after their source file: bench/log_bench.c runs as
# build/release/log_bench.
bench: build
	@set -e; found=0; \
	for src in bench/*_bench.c; do \
		[[ -e "$$src" ]] || continue; \
		found=1; name=$$(basename "$$src" .c); \
		echo "==== $$name"; build/release/$$name; \
	done; \
	if [[ $$found == 0 ]]; then echo "no bench/*_bench.c yet"; fi

# make bench-log runs scripts/bench-log, and so on for any bench-NAME script.
bench-%:
	@scripts/setup bench
	@if [[ ! -x scripts/bench-$* ]]; then \
		echo "make: no executable scripts/bench-$* for 'make bench-$*'" >&2; \
		exit 1; \
	fi
	@scripts/build release
	@scripts/bench-$*

fuzz: build-fuzz
	@scripts/fuzz-run "$${FUZZ_SECONDS:-300}"

format: setup
	@scripts/check-format --fix

format-check: setup
	@scripts/check-format

clean:
	rm -rf build
