#!/usr/bin/env bash
# Builds the real Ignition binary (cached outside the repo) and prints its path.
# It needs cgo and libblkid. SELinux relabeling is compiled out: the test
# root file system has no policy.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

version=v2.26.0
out="$E2E_CACHE/ignition-$version"
if [[ -x $out/ignition ]]; then
	echo "$out/ignition"
	exit 0
fi
log "building Ignition $version (cold: ~4 min)"
mkdir -p "$E2E_CACHE"
work=$(mktemp -d "$E2E_CACHE/.ignition-XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg=github.com/coreos/ignition/v2
CGO_ENABLED=1 GOBIN="$work" GOFLAGS=-buildvcs=false go install -trimpath \
	-ldflags "-s -w -X $pkg/internal/version.Raw=$version -X $pkg/internal/distro.selinuxRelabel=false" \
	"$pkg/internal@$version"
mv "$work/internal" "$work/ignition"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "$out/ignition"
