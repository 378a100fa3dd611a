#!/usr/bin/env bash
# Debian packages the VM end-to-end harness needs on the host. Runs as root in CI.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs zstd ca-certificates \
  gcc libc6-dev libblkid-dev pkg-config
