#!/usr/bin/env bash
# The VM end-to-end test of day1kmod: boots a real Debian 12 kernel with
# systemd, podman and NetworkManager under QEMU, with the MachineConfig the
# project's producer generates applied by the real Ignition, and checks from
# the guest's own journal and /sys that the out-of-tree module replaces the
# in-tree one before the network comes up. See README.md in this directory.
#
# Knobs (environment):
#   E2E_SCENARIOS     scenarios to run (default: all, in this order)
#                     baseline replace install-boot registry-late load-hangs
#                     oot-fails two-modules wrong-kernel
#                     other-vermagic image-firmware firmware-link verify
#   E2E_CACHE         cache of the base image and Ignition
#                     (default ${XDG_CACHE_HOME:-$HOME/.cache}/day1kmod-e2e)
#   E2E_WORKDIR       where disks and logs go (default: a new temporary directory)
#   E2E_KEEP=1        keep E2E_WORKDIR (disks are 4 GB sparse each)
#   E2E_JOBS          scenarios run at the same time (default 2)
#   E2E_BOOT_TIMEOUT  seconds one guest boot may take (default 420)
#   E2E_QEMU_SMP, E2E_QEMU_MEM   guest CPUs (default 1) and MB (default 2048)
#   E2E_KERNEL_ABI    guest kernel (default pinned in lib.sh)
#   E2E_DEBIAN_MIRROR Debian mirror (default: the one apt on this machine uses)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=checks.sh
. "$E2E_DIR/checks.sh"
# shellcheck source=scenarios.sh
. "$E2E_DIR/scenarios.sh"

SCENARIOS=${E2E_SCENARIOS:-baseline replace install-boot registry-late load-hangs oot-fails two-modules wrong-kernel other-vermagic image-firmware firmware-link verify}
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
KVER2=$(cat "$BASE/kver2")
BIN="$WORK/bin"
log "building the test tools"
(cd "$E2E_DIR" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BIN/" ./cmd/...)
# day1kmod itself, for the verify scenario (`day1kmod verify` on the images).
(cd "$E2E_DIR/../../.." && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BIN/day1kmod" .)

log "unpacking the base image (guest kernels $KVER, $KVER2)"
zstd -d -q -f "$BASE/base.img.zst" -o "$WORK/base.img"
mkdir -p "$WORK/images"
for dir in "$BASE"/images/*/; do
	name=$(basename "$dir")
	[[ $name != fw ]] || continue # packed below, with its firmware
	"$BIN/mkimage" -dir "$dir" -tag "$IMG/$name:$KVER" -out "$WORK/images/$name.tar"
done
# The dummy image holds trees for both kernels: tagged for each, as the
# image reference's ${KERNEL_FULL_VERSION} asks.
"$BIN/mkimage" -dir "$BASE/images/dummy" -tag "$IMG/dummy:$KVER2" -out "$WORK/images/dummy-kernel2.tar"
# dummy2: the dummy image as a new release of it would be (the image-edit
# row): the same trees with the module's version string rewritten to another
# of the same length (the ELF stays valid), tagged for both kernels.
rm -rf "$WORK/trees/dummy2"
mkdir -p "$WORK/trees"
cp -a "$BASE/images/dummy" "$WORK/trees/dummy2"
for k in "$KVER" "$KVER2"; do
	perl -pi -e "s/day1kmod-e2e-oot\0/$DUMMY2_VERSION\0/g" "$WORK/trees/dummy2/opt/lib/modules/$k/extra/dummy.ko"
	grep -aq "version=$DUMMY2_VERSION" "$WORK/trees/dummy2/opt/lib/modules/$k/extra/dummy.ko" || die "could not rewrite the version of dummy2 for $k"
	"$BIN/mkimage" -dir "$WORK/trees/dummy2" -tag "$IMG/dummy2:$k" -out "$WORK/images/dummy2-$k.tar"
done
# other-vermagic: laid out for the running kernel, but its module says it was
# built for another one (same-length vermagic, so the ELF stays valid).
cp -a "$BASE/images/dummy" "$WORK/trees/other-vermagic"
kver_head=${KVER%%[a-z]*} # 6.1.0-50-amd64 -> 6.1.0-50- -> 0.0.0-00-amd64
OTHER_KVER=${kver_head//[1-9]/0}${KVER#"$kver_head"}
perl -pi -e "s/vermagic=\Q$KVER\E /vermagic=$OTHER_KVER /" "$WORK/trees/other-vermagic/opt/lib/modules/$KVER/extra/dummy.ko"
grep -aq "vermagic=$OTHER_KVER " "$WORK/trees/other-vermagic/opt/lib/modules/$KVER/extra/dummy.ko" || die "could not rewrite the vermagic"
"$BIN/mkimage" -dir "$WORK/trees/other-vermagic" -tag "$IMG/other-vermagic:$KVER" -out "$WORK/images/other-vermagic.tar"
# image-firmware: e2e_fw and the firmware file its init requests, under the
# image's firmwarePath (/firmware). Its size and CRC (crc_itu_t, seed 0, as
# the module computes it with the in-tree crc-itu-t.ko) are what the guest's
# sysfs must show.
rm -rf "$WORK/trees/fw" "$WORK/trees/firmware-link"
cp -a "$BASE/images/fw" "$WORK/trees/fw"
mkdir -p "$WORK/trees/fw/firmware/day1kmod-e2e"
FW_SIZE=4099
perl -e 'print map { chr(($_ * 7 + 3) % 256) } 0 .. $ARGV[0] - 1' "$FW_SIZE" >"$WORK/trees/fw/firmware/day1kmod-e2e/e2e-fw.bin"
FW_CRC=$(perl -e 'local $/; my $d = <STDIN>; my $c = 0; for my $b (unpack "C*", $d) { $c ^= $b << 8; $c = $c & 0x8000 ? (($c << 1) ^ 0x1021) & 0xffff : ($c << 1) & 0xffff for 1 .. 8 } print $c' <"$WORK/trees/fw/firmware/day1kmod-e2e/e2e-fw.bin")
"$BIN/mkimage" -dir "$WORK/trees/fw" -tag "$IMG/fw:$KVER" -out "$WORK/images/fw.tar"
# firmware-link: the dummy image whose firmware directory is a link to the
# host's root: the fetch must refuse it, not copy through it.
cp -a "$BASE/images/dummy" "$WORK/trees/firmware-link"
ln -s / "$WORK/trees/firmware-link/firmware"
"$BIN/mkimage" -dir "$WORK/trees/firmware-link" -tag "$IMG/firmware-link:$KVER" -out "$WORK/images/firmware-link.tar"
setup_time=$((SECONDS - started_all))

# --- report rows ----------------------------------------------------------------
# Each scenario's subshell collects its rows in ROWS; run.sh gathers them in REPORT.
FAILED=0
# shellcheck disable=SC2317 # called by the scenarios
row_begin() {
	ROW_NAME=$1
	ROW_OK=1
	log "scenario: $ROW_NAME"
}
# row_end FIRST LAST [SHUTDOWN]: the row is about boots FIRST..LAST of the
# scenario; its timings come from boot LAST, its shutdown figures from boot
# SHUTDOWN's shutdown (default LAST-1; 0: none): how long the prefetch unit's
# stop took, and the whole shutdown.
# shellcheck disable=SC2317 # called by the scenarios
row_end() {
	local first=$1 last=$2 shut=${3:-$(($2 - 1))} verdict=PASS secs=0 n endings=() netpre nm load gate kubelet end shutdown=- prefetch all
	if ((ROW_OK == 0)); then
		verdict=FAIL
		FAILED=1
		explain
	fi
	for ((n = first; n <= last && n <= BOOTS; n++)); do
		secs=$((secs + BOOT_SECS[n - 1]))
		endings+=("${ENDINGS[n - 1]}")
	done
	IFS='|' read -r netpre nm load gate kubelet end < <(timing "$last")
	if ((shut > 0)); then
		prefetch=$(secs "$(stop_secs "$shut" "$PREFETCH_UNIT")")
		all=$(secs "$(shutdown_secs "$shut")")
		shutdown="${prefetch:--} / ${all:--}"
	fi
	ROWS+=("$(printf '| %-47s | %-4s | %-2s %-20s | %5s s | %-11s | %-11s | %-12s | %-12s | %-9s | %-9s | %-16s |' "$ROW_NAME" "$verdict" \
		"${#endings[@]}" "(${endings[*]})" "$secs" "${netpre:--}" "${nm:--}" "${load:--}" "${gate:--}" "${kubelet:--}" "${end:--}" "$shutdown")")
}

# run_scenario NAME: one scenario, in a subshell of its own (a scenario that
# dies takes only itself down); leaves its rows in $WORK/NAME.rows.
run_scenario() {
	(
		ROWS=()
		"scenario_${1//-/_}"
		printf '%s\n' "${ROWS[@]}" >"$WORK/$1.rows"
		if [[ ${E2E_KEEP:-0} != 1 ]]; then
			rm -rf "$WORK/$1/disk.img" "$WORK/$1/stage" # ~1 GB each
		fi
	)
}

for s in $SCENARIOS; do
	declare -F "scenario_${s//-/_}" >/dev/null || die "unknown scenario $s"
done
# Longest first (measured), so that parallel guests end together; the report
# keeps the order of SCENARIOS.
LONGEST_FIRST="replace registry-late load-hangs install-boot image-firmware two-modules oot-fails other-vermagic wrong-kernel firmware-link baseline verify"
start_order() {
	local s l
	for l in $LONGEST_FIRST; do
		for s in $SCENARIOS; do
			[[ $s == "$l" ]] && echo "$s"
		done
	done
	for s in $SCENARIOS; do
		[[ " $LONGEST_FIRST " == *" $s "* ]] || echo "$s"
	done
}
if ((E2E_JOBS > 1)); then
	for s in $(start_order); do
		while (($(jobs -rp | wc -l) >= E2E_JOBS)); do
			wait -n || true
		done
		log "scenario $s started (output: $WORK/$s.log)"
		run_scenario "$s" >"$WORK/$s.log" 2>&1 &
	done
	wait || true
	for s in $SCENARIOS; do
		echo "===== scenario $s"
		cat "$WORK/$s.log"
	done
else
	for s in $SCENARIOS; do
		run_scenario "$s" || true
	done
fi
REPORT=()
for s in $SCENARIOS; do
	if [[ -s $WORK/$s.rows ]]; then
		mapfile -t -O "${#REPORT[@]}" REPORT <"$WORK/$s.rows"
		grep -q '| FAIL |' "$WORK/$s.rows" && FAILED=1
	else
		REPORT+=("$(printf '| %-47s | %-4s | %s |' "$s: aborted, see its output above" FAIL "")")
		FAILED=1
	fi
done

echo
echo "day1kmod VM end-to-end: guest kernels $KVER and $KVER2, QEMU TCG -smp $E2E_QEMU_SMP, $(nproc) host CPUs, $E2E_JOBS guest(s) at a time"
echo "Times from the guest journal, monotonic (since kernel start), of the row's last boot; the kubelet is the stand-in;"
echo "boot end is the journal's last line (the reboot, or the probe's power off once the boot is done);"
echo "shutdown: of the boot before the row's last one (or as the row names it): the prefetch unit's stop / the whole shutdown."
echo "| scenario                                        | ok   | boots (how each ended)  |  time   | network-pre | NM starting | load unit(s) | gate unit(s) | kubelet   | boot end  | shutdown         |"
echo "|-------------------------------------------------|------|-------------------------|---------|-------------|-------------|--------------|--------------|-----------|-----------|------------------|"
printf '%s\n' "${REPORT[@]}"
echo "setup (base image, Ignition, tools, images): ${setup_time} s; total: $((SECONDS - started_all)) s"
exit "$FAILED"
