# The two commands of the README:
#   make demo   install what is missing, build, and make a demo archive from synthetic data
#   make test   install what is missing, build, and run every test
# Everything else is plumbing for those two.

BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60
DEMO_ARCHIVE ?= demo-archive

.PHONY: all demo test deps build build-san test-release test-san fuzz bench clean

all: build

deps:
	@scripts/install-deps
	@scripts/install-node-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(BUILD_SAN)/build.ninja:
	CC=clang cmake -S . -B $(BUILD_SAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DOBIA_SANITIZE=ON -DOBIA_FUZZ=ON -DOBIA_FUZZ_SECONDS=$(FUZZ_SECONDS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-san: deps $(BUILD_SAN)/build.ninja
	ninja -C $(BUILD_SAN)

demo: build
	@scripts/demo $(BUILD)/obia $(DEMO_ARCHIVE) $(BUILD)/demo-data

# The sanitizer build runs the unit tests and the fuzzers first; the release
# build's full suite runs last, so the output ends with CTest's summary.
test-san: build-san
	cd $(BUILD_SAN) && ctest --output-on-failure -j$(JOBS) -L 'unit|fuzz|sanitize'

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test: test-san test-release

fuzz: build-san
	cd $(BUILD_SAN) && ctest --output-on-failure -L fuzz

bench: build
	OBIA=$(BUILD)/obia bench/parse
	OBIA=$(BUILD)/obia bench/deid
	OBIA=$(BUILD)/obia bench/ingest
	OBIA=$(BUILD)/obia bench/report
	OBIA=$(BUILD)/obia bench/render
	OBIA=$(BUILD)/obia bench/http

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
