# flowwatch — one static binary, no cgo.
GO        ?= go
BIN       ?= bin/flowwatch
DATA_DIR  ?= $(HOME)/.local/share/flowwatch
export CGO_ENABLED ?= 0

.PHONY: all build run test race bench fuzz fmt vet lint clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/flowwatch

# The main job: the AWS-compatible endpoint on 127.0.0.1:4566 with the embedded store.
run: build
	$(BIN) serve --data-dir $(DATA_DIR)

# The whole test suite: unit, crash, integration (aws CLI, boto3, aws-sdk-go-v2 against a
# real `flowwatch serve`), then the race detector on the concurrent packages.
test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	CGO_ENABLED=1 $(GO) test -count=1 -race -short -timeout 10m ./internal/...

race:
	CGO_ENABLED=1 $(GO) test -race ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

# Each fuzz target for FUZZTIME; the corpus under testdata/fuzz is kept in git.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./internal/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

lint: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf bin
