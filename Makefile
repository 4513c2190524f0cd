# The README's commands are these targets.
GO       ?= go
BIN      := $(CURDIR)/bin
SYNCBOX  := $(BIN)/syncbox
# seccomp: libcontainer's seccomp support needs the tag and libseccomp-dev.
TAGS     ?= seccomp
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
export CGO_ENABLED := 1

CONNECTORS := $(patsubst testdata/connectors/%/main.go,$(BIN)/%,$(wildcard testdata/connectors/*/main.go))

.PHONY: all build connectors test demo bench bench-forecast lint clean

all: build

build: $(SYNCBOX) connectors

$(SYNCBOX): FORCE
	$(GO) build -tags '$(TAGS)' -ldflags '-X syncbox/cmd.Version=$(VERSION)' -o $@ .

connectors: $(CONNECTORS)

$(BIN)/%: FORCE
	$(GO) build -o $@ ./testdata/connectors/$*

# Container tests need root (CI runs as root) and build the binary first.
test: build lint
	SYNCBOX_BIN=$(SYNCBOX) SYNCBOX_CONNECTORS=$(BIN) $(GO) test -tags '$(TAGS)' -count=1 -timeout 60m ./...

# The main job on the bundled demo connector: a Singer tap with one value
# too large for Redshift, run in a container with checkpoints and a report.
DEMO := $(BIN)/demo
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	SYNCBOX_HOME=$(DEMO)/home $(SYNCBOX) run --name tap-demo --destination redshift \
	  --state-file $(DEMO)/state.json --flags-file $(DEMO)/flags.jsonl --rejects-dir $(DEMO)/rejects \
	  --report $(DEMO)/report.json -- $(BIN)/tap-demo --records 2000 --state {state} > $(DEMO)/records.jsonl
	@echo "--- a record whose oversized value was nulled, with its lineage:"
	@grep -m1 '"meta"' $(DEMO)/records.jsonl | cut -c1-400
	@echo "--- the flags file says what changed, where and why; the original is in rejects/:"
	@cat $(DEMO)/flags.jsonl; ls -l $(DEMO)/rejects
	@echo "--- checkpoint: $$(cat $(DEMO)/state.json)"
	@echo "--- full report: $(DEMO)/report.json"

bench: build
	SYNCBOX_BIN=$(SYNCBOX) SYNCBOX_CONNECTORS=$(BIN) $(GO) test -p 1 -tags '$(TAGS)' -run '^$$' -bench . -benchtime 1x -timeout 60m ./run/... ./cmd/...

bench-forecast:
	$(GO) test -run '^$$' -bench 'Scenarios|Replay' -benchtime 1x -timeout 30m ./limits/forecast/
	$(GO) test -run '^$$' -bench Recommend -benchtime 2s ./limits/forecast/

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet -tags '$(TAGS)' ./...

clean:
	rm -rf $(BIN)

FORCE:
