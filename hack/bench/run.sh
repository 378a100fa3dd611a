#!/bin/sh
# Benchmark (make bench): the function against a no-op kyaml pass-through
# function built in the same run, as ratios (wall time, peak memory), on
# unrelated items and in package mode with many Day1KernelModules, with the
# fixed cost (1 item) against its goal (<= 1.3x wall, <= 1.5x peak RSS of
# the no-op); then the Go benchmarks of the producer and of the function's
# processing.
#   RUNS=7 ITEMS=1,20000 MODULES=1,10,100,1000 hack/bench/run.sh
set -eu
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w" -o "$out/day1kmod" .
go build -trimpath -ldflags "-s -w" -o "$out/noop" ./hack/bench/noop
go build -o "$out/measure" ./hack/bench/measure
echo "go: $(go env GOVERSION), $(uname -m), $(nproc) CPUs"
"$out/measure" -fn "$out/day1kmod" -noop "$out/noop" -items "${ITEMS:-1,20000}" -modules "${MODULES:-1,10,100,1000}" -runs "${RUNS:-7}"
echo
go test -run '^$' -bench . -benchmem ./pkg/machineconfig ./pkg/mcproducer ./function
