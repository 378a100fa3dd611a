# day1kmod: `make example` renders an example, `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

KUSTOMIZE := $(BIN)/kustomize
FUZZTIME ?= 30s
IMAGE ?= day1kmod:dev
DIST := $(CURDIR)/dist
# Evaluated once (:=), so every binary of one make run carries the same version.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION := $(VERSION)
# The commit's time dates the image (reproducible digests); empty outside git.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
SOURCE_DATE_EPOCH := $(SOURCE_DATE_EPOCH)
GOOS ?= $(shell $(GO) env GOOS)
GOOS := $(GOOS)
GOARCH ?= $(shell $(GO) env GOARCH)
GOARCH := $(GOARCH)
IMAGE_PLATFORMS := linux/amd64 linux/arm64
RELEASE_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

# The one build command of bin/, the image (both Dockerfiles) and the release:
# no cgo (a static binary on linux), no paths, no symbols, the version linked in.
# $(call go_build,OS,ARCH,OUT)
go_build = CGO_ENABLED=0 GOOS=$(1) GOARCH=$(2) $(GO) build -trimpath \
	-ldflags "-s -w -X github.com/day1kmod/day1kmod/pkg/machineconfig.Version=$(VERSION)" -o $(3) .
# bin/platforms/OS-ARCH/day1kmod for each OS/ARCH of $(1)
platform_bins = $(foreach p,$(1),$(BIN)/platforms/$(subst /,-,$(p))/day1kmod)

.PHONY: all build generate example test golden e2e-clients fuzz e2e bench image release tools clean FORCE

all: build

## build: the static KRM function binary, bin/day1kmod (GOOS, GOARCH: another platform)
build:
	$(call go_build,$(GOOS),$(GOARCH),$(BIN)/day1kmod)

## generate: rewrite what is generated from the sources (pkg/machineconfig/scripts_gen.go:
## the node scripts as the MachineConfig carries them); run it after changing
## a node script. `make test` fails while it is stale.
generate:
	$(GO) generate ./...

# go build decides what is stale: always ask it.
$(BIN)/platforms/%/day1kmod: FORCE
	$(call go_build,$(word 1,$(subst -, ,$*)),$(word 2,$(subst -, ,$*)),$@)

# What the tests run besides Go is listed once, in hack/tools.txt.
$(KUSTOMIZE):
	@GO=$(GO) BIN=$(BIN) hack/tools.sh kustomize

## tools: install what the tests run and this machine lacks (hack/tools.txt):
## system packages (as root, with sudo, or brew), Go modules into bin/
tools:
	@GO=$(GO) BIN=$(BIN) hack/tools.sh

## example: render the kustomize example with the function (no cluster needed)
example: build $(KUSTOMIZE)
	$(KUSTOMIZE) build --enable-alpha-plugins --enable-exec examples/kustomize-exec

## test: vet, unit, golden, node-script and client end-to-end tests
# The examples' tests run binaries they build, which go test's cache does not
# track: they always run (-count=1). The node scripts' behaviour tests run
# bash thousands of times: on a busy 2-core machine they outlast go test's
# default 10 minutes, hence the longer bound.
test: tools build
	$(GO) vet ./...
	$(GO) test -timeout 30m $$($(GO) list ./... | grep -v /examples$$)
	$(GO) test -timeout 30m -count=1 ./examples/

## golden: regenerate every golden file and example output after a deliberate
## change of the output; review the diff before committing it
golden: generate build $(KUSTOMIZE)
	$(GO) test ./pkg/machineconfig -run TestGolden -update
	WRITE_GOLDEN_OUTPUT=1 $(GO) test -count=1 ./function/ ./examples/
	$(GO) test -count=1 ./pkg/machineconfig ./pkg/mcproducer ./function/ ./examples/

## e2e-clients: only the end-to-end tests with the real kustomize and kpt
e2e-clients: build $(KUSTOMIZE)
	$(GO) test -count=1 -v ./examples/

## fuzz: run the producer's fuzz target for FUZZTIME
fuzz:
	$(GO) test ./pkg/machineconfig -run '^$$' -fuzz FuzzMachineConfig -fuzztime $(FUZZTIME)

## e2e: boot a real kernel under QEMU with the generated MachineConfig
e2e:
	test/e2e/vm/run.sh

## bench: time and memory of the function against a no-op pass-through,
## and the 1-item fixed cost against its goal (RUNS: paired runs per size)
bench:
	hack/bench/run.sh

## image: the image IMAGE, a manifest list for IMAGE_PLATFORMS, built offline
## from the binaries built here (podman, or docker where its daemon answers)
image: $(call platform_bins,$(IMAGE_PLATFORMS))
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) hack/image/build.sh $(IMAGE) $(BIN)/platforms $(IMAGE_PLATFORMS)

## release: dist/day1kmod-OS-ARCH for RELEASE_PLATFORMS, and dist/SHA256SUMS
release: $(call platform_bins,$(RELEASE_PLATFORMS))
	rm -rf $(DIST) && mkdir -p $(DIST)
	$(foreach p,$(RELEASE_PLATFORMS),cp $(BIN)/platforms/$(subst /,-,$(p))/day1kmod $(DIST)/day1kmod-$(subst /,-,$(p)) &&) true
	cd $(DIST) && sha256sum day1kmod-* > SHA256SUMS

clean:
	rm -rf $(BIN) $(DIST)
