#!/usr/bin/env bash
# The VM end-to-end test of day1kmod: boots a real Debian 12 kernel with
# systemd, podman and NetworkManager under QEMU, with the MachineConfig the
# project's producer generates applied by the real Ignition, and checks from
# the guest's own journal and /sys that the out-of-tree module replaces the
# in-tree one before the network comes up. See README.md in this directory.
#
# Knobs (environment):
#   E2E_SCENARIOS     scenarios to run (default: all, in this order)
#                     baseline replace oot-fails two-modules wrong-kernel
#   E2E_CACHE         cache of the base image and Ignition
#                     (default ${XDG_CACHE_HOME:-$HOME/.cache}/day1kmod-e2e)
#   E2E_WORKDIR       where disks and logs go (default: a new temporary directory)
#   E2E_KEEP=1        keep E2E_WORKDIR (disks are 4 GB sparse each)
#   E2E_BOOT_TIMEOUT  seconds one guest boot may take (default 420)
#   E2E_QEMU_SMP, E2E_QEMU_MEM   guest CPUs (default 2) and MB (default 2048)
#   E2E_KERNEL_ABI    guest kernel (default pinned in lib.sh)
#   E2E_DEBIAN_MIRROR Debian mirror (default: the one apt on this machine uses)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=checks.sh
. "$E2E_DIR/checks.sh"
# shellcheck source=scenarios.sh
. "$E2E_DIR/scenarios.sh"

SCENARIOS=${E2E_SCENARIOS:-baseline replace oot-fails two-modules wrong-kernel}
started_all=$SECONDS

for tool in qemu-system-x86_64 mmdebstrap debugfs mkfs.ext4 zstd go timeout; do
	command -v "$tool" >/dev/null || die "$tool not found: run test/e2e/vm/deps.sh (as root)"
done

if [[ -n ${E2E_WORKDIR:-} ]]; then
	WORK=$E2E_WORKDIR
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/day1kmod-e2e.XXXXXX")
fi
if [[ ${E2E_KEEP:-0} != 1 ]]; then
	trap 'rm -rf "$WORK"' EXIT
fi
log "work directory: $WORK"

BASE=$("$E2E_DIR/build-base.sh")
IGNITION=$("$E2E_DIR/build-ignition.sh")
KVER=$(cat "$BASE/kver")
BIN="$WORK/bin"
log "building the test tools"
(cd "$E2E_DIR" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BIN/" ./cmd/...)

log "unpacking the base image (guest kernel $KVER)"
zstd -d -q -f "$BASE/base.img.zst" -o "$WORK/base.img"
mkdir -p "$WORK/images"
for dir in "$BASE"/images/*/; do
	name=$(basename "$dir")
	"$BIN/mkimage" -dir "$dir" -tag "$IMG/$name:$KVER" -out "$WORK/images/$name.tar"
done
setup_time=$((SECONDS - started_all))

# --- report rows ----------------------------------------------------------------
ROWS=()
FAILED=0
row_begin() {
	ROW_NAME=$1
	ROW_OK=1
	ROW_START=$SECONDS
	ROW_BOOTS0=${BOOTS:-0}
	log "scenario: $ROW_NAME"
}
row_end() {
	local verdict=PASS
	if ((ROW_OK == 0)); then
		verdict=FAIL
		FAILED=1
		explain
	fi
	ROWS+=("$(printf '| %-48s | %-4s | %-26s | %5s s | %s |' "$ROW_NAME" "$verdict" \
		"$((BOOTS - ROW_BOOTS0)) (${ENDINGS[*]:ROW_BOOTS0})" "$((SECONDS - ROW_START))" "$1")")
}

for s in $SCENARIOS; do
	fn="scenario_${s//-/_}"
	declare -F "$fn" >/dev/null || die "unknown scenario $s"
	"$fn"
done

echo
echo "day1kmod VM end-to-end: guest kernel $KVER, QEMU TCG, -smp $E2E_QEMU_SMP"
echo "| scenario                                         | ok   | boots (how each ended)     |  time   | kernel start -> |"
echo "|--------------------------------------------------|------|----------------------------|---------|-----------------|"
printf '%s\n' "${ROWS[@]}"
echo
echo "network-pre.target without the MachineConfig: ${TIMING_WITHOUT:-not measured}"
echo "network-pre.target with the MachineConfig:    ${TIMING_WITH:-not measured}"
echo "setup (base image, Ignition, tools, images): ${setup_time} s; total: $((SECONDS - started_all)) s"
exit "$FAILED"
