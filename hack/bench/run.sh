#!/bin/sh
# Benchmark (make bench): wall time and peak memory of the day1kmod function
# on a ResourceList with 1 and 10,000 unrelated items, against a no-op kyaml
# pass-through function built in the same run, as ratios.
#   RUNS=5 ITEMS=1,10000 hack/bench/run.sh
set -eu
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w" -o "$out/day1kmod" .
go build -trimpath -ldflags "-s -w" -o "$out/noop" ./hack/bench/noop
go build -o "$out/measure" ./hack/bench/measure
echo "go: $(go env GOVERSION), $(uname -m), $(nproc) CPUs"
"$out/measure" -fn "$out/day1kmod" -noop "$out/noop" -items "${ITEMS:-1,10000}" -runs "${RUNS:-5}"
