# The README's commands are these targets.
GO       ?= go
BIN      := $(CURDIR)/bin
SYNCBOX  := $(BIN)/syncbox
# seccomp: libcontainer's seccomp support needs the tag and libseccomp-dev.
# netgo, osusergo and -static: one static binary, as runc's releases are, that
# runs on hosts without libseccomp or the build machine's glibc version.
TAGS     ?= seccomp netgo osusergo
STATIC   ?= -extldflags -static
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
export CGO_ENABLED := 1
# simd: run/stream's string scan uses simd/archsimd (AVX2/AVX-512, chosen at
# start by CPU feature detection); without the experiment it builds the
# portable SWAR path only. Set for build, test and bench alike.
GOEXPERIMENT ?= simd
export GOEXPERIMENT

# ./... skips testdata/, where the connectors and test helpers live: vet them by name.
TESTDATA_PKGS := $(patsubst %/,./%,$(sort $(dir $(wildcard testdata/*/*.go testdata/*/*/*.go))))

CONNECTORS := $(patsubst testdata/connectors/%/main.go,$(BIN)/%,$(wildcard testdata/connectors/*/main.go))

.PHONY: all build deps deps-test connectors simdjson-peer test test-cgroup2 demo bench bench-forecast lint clean

all: build

build: $(SYNCBOX) connectors

# What a fresh Debian/Ubuntu lacks: installed as root, else the one command to run.
deps:
	@bash .ci/deps build
deps-test:
	@bash .ci/deps test

$(SYNCBOX): FORCE | deps
	$(GO) build -tags '$(TAGS)' -ldflags '-X syncbox/cmd.Version=$(VERSION) $(STATIC)' -o $@ .

connectors: $(CONNECTORS)

# Static too (no cgo): the cgroup v2 guest (test-cgroup2) has no glibc.
$(BIN)/%: FORCE | deps
	CGO_ENABLED=0 $(GO) build -o $@ ./testdata/connectors/$*

# Container tests need root (CI runs as root) and build the binary first.
# The cgroup v2 guest runs after the rest, not beside it: its emulated CPUs
# take both cores and would slow other packages' timing-sensitive tests.
test: deps-test build lint
	SYNCBOX_BIN=$(SYNCBOX) SYNCBOX_CONNECTORS=$(BIN) $(GO) test -tags '$(TAGS)' -count=1 -timeout 60m -skip '^TestCgroupV2Guest$$' ./...
	$(CGROUP2_TEST)

# cgroup v2 on a real kernel (this host kind is v1): Debian's cloud kernel
# under qemu TCG, runner in a service leaf and in a pod (run/e2e/cgroup2_test.go).
# `make test` runs it last.
CGROUP2_TEST = SYNCBOX_BIN=$(SYNCBOX) SYNCBOX_CONNECTORS=$(BIN) $(GO) test -count=1 -timeout 20m -v -run '^TestCgroupV2Guest$$' ./run/e2e/
test-cgroup2: deps-test build
	$(CGROUP2_TEST)

# The main job on the bundled demo connectors: a Singer tap with one value
# too large for Redshift, piped through syncbox into a Singer target, each in
# its own container, with checkpoints the target confirmed and a report.
DEMO := $(BIN)/demo
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO) && mkdir -m 0777 $(DEMO)/warehouse
	SYNCBOX_HOME=$(DEMO)/home $(SYNCBOX) run --name tap-demo --destination redshift \
	  --state-file $(DEMO)/state.json --flags-file $(DEMO)/flags.jsonl --rejects-dir $(DEMO)/rejects \
	  --report $(DEMO)/report.json \
	  --target '$(BIN)/target-file --dir $(DEMO)/warehouse' --target-bind $(DEMO)/warehouse:$(DEMO)/warehouse:rw \
	  -- $(BIN)/tap-demo --records 2000 --state {state} > $(DEMO)/target-output.jsonl
	@echo "--- the warehouse (what the target committed):"
	@wc -l $(DEMO)/warehouse/*.jsonl
	@echo "--- a record whose oversized value was nulled, with its lineage (as the target stored it):"
	@grep -h -m1 '"notes":null' $(DEMO)/warehouse/orders.jsonl | cut -c1-300
	@echo "--- the flags file says what changed, where and why; the original is in rejects/:"
	@cat $(DEMO)/flags.jsonl; ls -l $(DEMO)/rejects
	@echo "--- checkpoint (advanced only on STATEs the target printed after committing): $$(cat $(DEMO)/state.json)"
	@echo "--- full report: $(DEMO)/report.json"

# simdjson's C++ parser, a peer in run/stream's BenchmarkPeers (run as a
# process, one round each time): our harness on simdjson's amalgamation from
# npm (testdata/peers/simdjson/package-lock.json). Only bench needs it (and
# npm and g++); test and CI do not. -O3 without -march: simdjson picks its
# kernel at run time. Without -pthread, so parse_many stays on one thread.
SIMDJSON_DIR  := testdata/peers/simdjson
SIMDJSON_SRC  := $(SIMDJSON_DIR)/node_modules/@nozbe/simdjson/src
SIMDJSON_PEER := $(BIN)/simdjson-peer
simdjson-peer: $(SIMDJSON_PEER)
# A stamp, not the sources: npm dates unpacked files 1985.
$(SIMDJSON_DIR)/node_modules/.installed: $(SIMDJSON_DIR)/package.json $(SIMDJSON_DIR)/package-lock.json
	cd $(SIMDJSON_DIR) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@
$(SIMDJSON_PEER): $(SIMDJSON_DIR)/peer.cpp $(SIMDJSON_DIR)/node_modules/.installed
	@mkdir -p $(BIN)
	g++ -O3 -std=c++17 -I$(SIMDJSON_SRC) -o $@ $(SIMDJSON_DIR)/peer.cpp $(SIMDJSON_SRC)/simdjson.cpp

bench: build simdjson-peer
	SYNCBOX_BIN=$(SYNCBOX) SYNCBOX_CONNECTORS=$(BIN) SYNCBOX_SIMDJSON_PEER=$(SIMDJSON_PEER) $(GO) test -p 1 -tags '$(TAGS)' -run '^$$' -bench . -benchtime 1x -timeout 60m ./run/... ./cmd/...

bench-forecast:
	$(GO) test -run '^$$' -bench 'Scenarios|Replay' -benchtime 1x -timeout 30m ./limits/forecast/
	$(GO) test -run '^$$' -bench Recommend -benchtime 2s ./limits/forecast/

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet -tags '$(TAGS)' ./... $(TESTDATA_PKGS)

clean:
	rm -rf $(BIN) $(SIMDJSON_DIR)/node_modules

FORCE:
