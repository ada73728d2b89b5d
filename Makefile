# lethe: make demo runs the purge on a throwaway PostgreSQL; make test runs
# every test against real PostgreSQL, MinIO, helm, promtool and Pushgateway.
GOBIN    := $(shell go env GOPATH | cut -d: -f1)/bin
export PATH := $(GOBIN):$(PATH)
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build demo test tools lint unit chart-test bench-purge bench-retention fuzz

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/lethe .

demo: build
	LETHE=bin/lethe bash scripts/demo.sh

tools:
	bash scripts/install-tools.sh

lint: tools
	go vet ./...
	staticcheck ./...
	cd charts/tests && go vet ./...

unit: tools
	LETHE_REQUIRE_TOOLS=1 go test -race -count=1 -timeout 30m ./...

chart-test: tools
	cd charts/tests && LETHE_REQUIRE_TOOLS=1 go test -count=1 ./...

# test runs lint, unit and chart-test each even when an earlier one fails,
# so that one failure never hides another, and fails if any failed.
test: tools
	@failed=""; \
	for t in lint unit chart-test; do \
		$(MAKE) --no-print-directory $$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: failed:$$failed" >&2; exit 1; fi

fuzz:
	go test ./policy -run '^$$' -fuzz FuzzParse -fuzztime 60s

bench-purge:
	go run ./bench/purge $(ARGS)

bench-retention:
	go run ./bench/retention $(ARGS)
