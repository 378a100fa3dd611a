#!/bin/sh
# Pre-render the Day1KernelModule for Flux: run in CI from the repository
# root, then commit examples/flux/deploy (or fail the build when it differs:
# `git diff --exit-code examples/flux/deploy`).
#   KUSTOMIZE   kustomize v5 binary (default: bin/kustomize, else kustomize)
# The source's exec path points at bin/day1kmod, built here when missing.
set -eu
dir=examples/flux
kustomize=${KUSTOMIZE:-}
if [ -z "$kustomize" ]; then
	if [ -x bin/kustomize ]; then kustomize=bin/kustomize; else kustomize=kustomize; fi
fi
if [ ! -x bin/day1kmod ]; then
	CGO_ENABLED=0 go build -trimpath -o bin/day1kmod .
fi
mkdir -p "$dir/deploy"
"$kustomize" build --enable-alpha-plugins --enable-exec "$dir/source" > "$dir/deploy/day1kmod.yaml.tmp"
mv "$dir/deploy/day1kmod.yaml.tmp" "$dir/deploy/day1kmod.yaml"
