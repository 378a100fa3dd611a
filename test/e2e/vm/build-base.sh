#!/usr/bin/env bash
# Builds the cached base of the VM end-to-end test, unless already cached:
#   base.img.zst  ext4 root file system of a Debian 12 node: systemd, udev,
#                 kmod, podman, NetworkManager, the pinned kernel
#   vmlinuz, initrd.img, kver    the pinned kernel (booted by default)
#   vmlinuz2, initrd2.img, kver2 the second kernel (kernel-upgrade scenario)
#   images/       file trees of the test's kernel module images
# into $E2E_CACHE/base-<hash of its inputs>/ and prints that directory.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

key=$(base_key)
out="$E2E_CACHE/base-$key"
if [[ -e $out/complete ]]; then
	log "base image cached: $out"
	echo "$out"
	exit 0
fi

mirror=$(debian_mirror)
log "building the base image (cold: several minutes); mirror from apt sources"
mkdir -p "$E2E_CACHE"
work=$(mktemp -d "$E2E_CACHE/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

packages=(
	systemd systemd-sysv udev dbus kmod iproute2
	network-manager
	podman crun conmon fuse-overlayfs ca-certificates
	"linux-image-$E2E_KERNEL_ABI" "linux-image-$E2E_KERNEL2_ABI"
	# removed again by base-chroot.sh once the test modules are built
	"linux-headers-$E2E_KERNEL_ABI" "linux-headers-$E2E_KERNEL2_ABI" gcc make libc6-dev
)
started=$SECONDS
# The hooks get the root directory as $1 (single quotes: expanded by mmdebstrap).
# shellcheck disable=SC2016
mmdebstrap --variant=minbase \
	--include="$(
		IFS=,
		echo "${packages[*]}"
	)" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--customize-hook='mkdir -p "$1/tmp/e2e"' \
	--customize-hook="copy-in $E2E_DIR/kmod $E2E_DIR/base-chroot.sh /tmp/e2e" \
	--customize-hook="chroot \"\$1\" /bin/sh /tmp/e2e/base-chroot.sh $E2E_KERNEL_ABI $E2E_KERNEL2_ABI" \
	--customize-hook="sync-out /tmp/e2e/out $work/out" \
	--customize-hook='rm -rf "$1/tmp/e2e"' \
	"$E2E_SUITE" "$root" "deb $mirror $E2E_SUITE main" >&2
log "mmdebstrap: $((SECONDS - started)) s"

# --- make it a test node -----------------------------------------------------
echo e2e-node >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 e2e-node\n' >"$root/etc/hosts"
echo 'LABEL=root / ext4 rw,relatime 0 1' >"$root/etc/fstab"
# First boot semantics, as on a node Ignition just provisioned: systemd applies
# the presets (Ignition's 20-ignition.preset enables the day1kmod units).
echo uninitialized >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# Persistent journal, so a later boot can read an earlier one.
mkdir -p "$root/var/log/journal"
# The in-tree driver the OOT module replaces, loaded at boot like any NIC driver.
echo dummy >"$root/etc/modules-load.d/e2e-dummy.conf"
# -cpu max exposes SVM/VMX: keep kvm from loading under emulation.
printf 'blacklist kvm\nblacklist kvm_amd\nblacklist kvm_intel\n' >"$root/etc/modprobe.d/e2e-no-kvm.conf"
# Units that slow or block an unattended boot, or start work the test does not want.
for unit in getty.target getty@.service serial-getty@.service console-getty.service \
	systemd-firstboot.service \
	podman.service podman.socket podman-auto-update.service podman-auto-update.timer \
	podman-restart.service podman-clean-transient.service \
	apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
	fstrim.timer e2scrub_all.timer e2scrub_reap.service dpkg-db-backup.timer man-db.timer \
	ModemManager.service wpa_supplicant.service; do
	ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done

# boot_files KERNEL SUFFIX: the kernel and initramfs QEMU boots directly.
boot_files() {
	[[ -e $root/boot/vmlinuz-$1 && -e $root/boot/initrd.img-$1 ]] || die "kernel $1 or its initramfs is missing"
	cp "$root/boot/vmlinuz-$1" "$work/vmlinuz$2"
	cp "$root/boot/initrd.img-$1" "$work/initrd$2.img"
	echo "$1" >"$work/kver$2"
}
boot_files "$E2E_KERNEL_ABI" ""
boot_files "$E2E_KERNEL2_ABI" 2
mv "$work/out/images" "$work/images"

started=$SECONDS
truncate -s 4G "$work/base.img"
mkfs.ext4 -q -F -L root -d "$root" "$work/base.img"
zstd -q -T0 --rm "$work/base.img" -o "$work/base.img.zst"
log "disk image: $((SECONDS - started)) s, $(du -h "$work/base.img.zst" | cut -f1) compressed"

rm -rf "$root" "$work/out"
touch "$work/complete"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
# Base images built from older inputs are of no use any more.
find "$E2E_CACHE" -mindepth 1 -maxdepth 1 -name 'base-*' ! -name "base-$key" -exec rm -rf {} +
echo "$out"
