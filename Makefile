# The README's commands are these targets.
GO       ?= go
BIN      := $(CURDIR)/bin
SYNCBOX  := $(BIN)/syncbox
export CGO_ENABLED := 1

CONNECTORS := $(patsubst testdata/connectors/%/main.go,$(BIN)/%,$(wildcard testdata/connectors/*/main.go))

.PHONY: all build connectors test demo bench bench-forecast lint clean

all: build

build: $(SYNCBOX) connectors

$(SYNCBOX): FORCE
	$(GO) build -o $@ .

connectors: $(CONNECTORS)

$(BIN)/%: FORCE
	$(GO) build -o $@ ./testdata/connectors/$*

# Container tests need root (CI runs as root) and build the binary first.
test: build lint
	SYNCBOX_BIN=$(SYNCBOX) SYNCBOX_CONNECTORS=$(BIN) $(GO) test -count=1 -timeout 60m ./...

demo: build
	$(SYNCBOX) run --name tap-demo --memory 256MiB --destination redshift \
	  --report $(BIN)/demo-report.json -- $(BIN)/tap-demo --records 2000 > $(BIN)/demo-out.jsonl; \
	  code=$$?; echo "exit code $$code; records in $(BIN)/demo-out.jsonl, report in $(BIN)/demo-report.json" >&2

bench: build
	SYNCBOX_BIN=$(SYNCBOX) SYNCBOX_CONNECTORS=$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./run/... 

bench-forecast:
	$(GO) test -run '^$$' -bench Replay -benchtime 1x ./limits/...

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)

FORCE:
