# day1kmod: `make example` renders an example, `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

KUSTOMIZE_VERSION := v5.8.2
KUSTOMIZE := $(BIN)/kustomize
FUZZTIME ?= 30s
IMAGE ?= day1kmod:dev

.PHONY: all build example test golden e2e-clients fuzz e2e bench image tools clean

all: build

## build: the static KRM function binary, bin/day1kmod
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/day1kmod .

$(KUSTOMIZE):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

## tools: the clients the end-to-end tests drive (kpt comes from the system)
tools: $(KUSTOMIZE)

## example: render the kustomize example with the function (no cluster needed)
example: build $(KUSTOMIZE)
	$(KUSTOMIZE) build --enable-alpha-plugins --enable-exec examples/kustomize-exec

## test: vet, unit, golden, node-script and client end-to-end tests
# The examples' tests run binaries they build, which go test's cache does not
# track: they always run (-count=1).
test: build tools
	$(GO) vet ./...
	$(GO) test $$($(GO) list ./... | grep -v /examples$$)
	$(GO) test -count=1 ./examples/

## golden: regenerate every golden file and example output after a deliberate
## change of the output; review the diff before committing it
golden: build $(KUSTOMIZE)
	$(GO) test ./pkg/mcproducer -run TestGolden -update
	WRITE_GOLDEN_OUTPUT=1 $(GO) test -count=1 ./function/ ./examples/
	$(GO) test -count=1 ./pkg/mcproducer ./function/ ./examples/

## e2e-clients: only the end-to-end tests with the real kustomize and kpt
e2e-clients: build $(KUSTOMIZE)
	$(GO) test -count=1 -v ./examples/

## fuzz: run the producer's fuzz target for FUZZTIME
fuzz:
	$(GO) test ./pkg/mcproducer -run '^$$' -fuzz FuzzNewMachineConfig -fuzztime $(FUZZTIME)

## e2e: boot a real kernel under QEMU with the generated MachineConfig
e2e:
	test/e2e/vm/run.sh

## bench: time and memory of the function against a no-op pass-through
bench:
	hack/bench/run.sh

## image: the container image (needs docker or podman)
image:
	@engine=$$(command -v docker || command -v podman) || { echo "make image: no docker or podman found" >&2; exit 1; }; \
	$$engine build -t $(IMAGE) .

clean:
	rm -rf $(BIN)
