# shellcheck shell=bash
# Shared helpers of the VM end-to-end harness. Sourced, not run.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Kernel ABI of the guest, pinned: the OOT module is built against exactly this
# kernel, and the base image cache is keyed by it. It must exist in the
# mirror's bookworm suite; when a Debian point release drops it, bump it here
# (or set E2E_KERNEL_ABI) and the cache rebuilds.
E2E_KERNEL_ABI=${E2E_KERNEL_ABI:-6.1.0-50-amd64}
# The second kernel of the kernel-upgrade scenario: another flavour of the same
# version (its own `uname -r`, its own modules), booted by QEMU directly.
E2E_KERNEL2_ABI=${E2E_KERNEL2_ABI:-${E2E_KERNEL_ABI%-amd64}-cloud-amd64}
E2E_SUITE=bookworm

E2E_CACHE=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/day1kmod-e2e}

log() { printf '%s e2e: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# debian_mirror prints the Debian mirror apt on this machine already uses for
# the bookworm suite (E2E_DEBIAN_MIRROR overrides it). No host is named here.
debian_mirror() {
	if [[ -n ${E2E_DEBIAN_MIRROR:-} ]]; then
		echo "$E2E_DEBIAN_MIRROR"
		return
	fi
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -e $f ]] || continue
		# deb822: one paragraph per source; take the URIs of a "deb" paragraph
		# whose Suites has the plain suite (not -security/-updates).
		uri=$(awk -v suite="$E2E_SUITE" 'BEGIN { RS = ""; FS = "\n" }
			{
				types = ""; uris = ""; suites = ""; enabled = "yes"
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^Types:/) types = $i
					if ($i ~ /^URIs:/) uris = $i
					if ($i ~ /^Suites:/) suites = $i
					if ($i ~ /^Enabled: *no/) enabled = "no"
				}
				if (enabled == "yes" && types ~ /[ \t]deb([ \t]|$)/ && (suites " ") ~ ("[ \t]" suite "[ \t]")) {
					sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/); print u[1]; exit
				}
			}' "$f")
		if [[ -n $uri ]]; then
			echo "$uri"
			return
		fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -e $f ]] || continue
		uri=$(sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$E2E_SUITE" '$1 == "deb" && $3 == suite { print $2; exit }')
		if [[ -n $uri ]]; then
			echo "$uri"
			return
		fi
	done
	die "no Debian $E2E_SUITE mirror in apt's sources configuration; set E2E_DEBIAN_MIRROR"
}

# base_key hashes everything the base image is built from.
base_key() {
	(
		cd "$E2E_DIR" || exit 1
		echo "$E2E_KERNEL_ABI $E2E_KERNEL2_ABI $E2E_SUITE"
		cat build-base.sh base-chroot.sh kmod/Kbuild kmod/oot.c
	) | sha256sum | cut -c1-16
}

# --- disk -------------------------------------------------------------------

# apply_ignition CONFIG ROOT LOGDIR: the real Ignition writes CONFIG's files
# and units into the directory ROOT, as it would on a node's first boot.
apply_ignition() {
	local config=$1 root=$2 logs=$3 stage
	mkdir -p "$root" "$logs/ignition-state"
	for stage in fetch-offline files; do
		if ! IGNITION_CONFIG_FILE=$config "$IGNITION" -platform file -stage "$stage" -root "$root" \
			-config-cache "$logs/ignition-state/ignition.json" -state-file "$logs/ignition-state/state" \
			-neednet "$logs/ignition-state/neednet" -log-to-stdout >"$logs/ignition-$stage.log" 2>&1; then
			tail -n 30 "$logs/ignition-$stage.log" >&2
			die "ignition stage $stage failed"
		fi
	done
}

# write_tree TREE IMAGE: copies the directory TREE into the ext4 file system in
# IMAGE with debugfs (no mount, no loop device): directories, regular files
# (mode kept, owned by root) and symbolic links, replacing what is there.
write_tree() {
	local tree=$1 image=$2 type perm path dir base cmds
	cmds=$(mktemp)
	while read -r type perm path; do
		dir=/$(dirname "$path")
		base=$(basename "$path")
		case $type in
		d) echo "mkdir /$path" ;;
		f)
			printf 'cd %s\nrm %s\nwrite %s %s\nsif %s mode 0%o\nsif %s uid 0\nsif %s gid 0\n' \
				"$dir" "$base" "$tree/$path" "$base" "$base" $((8#100000 | 8#$perm)) "$base" "$base"
			;;
		l) printf 'cd %s\nrm %s\nsymlink %s %s\n' "$dir" "$base" "$base" "$(readlink "$tree/$path")" ;;
		*) die "write_tree: $path: unsupported file type $type" ;;
		esac
	done < <(cd "$tree" && find . -mindepth 1 -printf '%y %m %P\n' | sort -k3) >"$cmds"
	# Expected noise: mkdir of an existing directory, rm of an absent file.
	if debugfs -w -f "$cmds" "$image" 2>&1 >/dev/null |
		grep -vE '^debugfs [0-9.]|already exists|File not found by ext2_lookup|^$' >&2; then
		rm -f "$cmds"
		die "debugfs could not write $tree into $image"
	fi
	rm -f "$cmds"
}

# read_file IMAGE PATH: prints a file of the disk image (empty when absent).
read_file() {
	debugfs -R "cat $2" "$1" 2>/dev/null
}

# --- boot -------------------------------------------------------------------

E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-420}
# Two single-CPU guests at a time: on 2 host cores that is the fastest
# measured (all scenarios: 9 min 24 s against 14 min 27 s for one guest with
# 2 CPUs at a time), as TCG leaves a core idle in a guest's serial phases and
# while it waits. Concurrent guests make the timings noisier: compare rows of
# one run.
E2E_JOBS=${E2E_JOBS:-2}
E2E_QEMU_SMP=${E2E_QEMU_SMP:-1}
E2E_QEMU_MEM=${E2E_QEMU_MEM:-2048}

# boot_vm DISK LOGPREFIX [KERNEL]: boots DISK once, in a QEMU process of its
# own, and prints how the boot ended: poweroff, reboot, timeout, panic or crash.
# KERNEL is "" (the pinned kernel, default) or 2 (the second kernel): QEMU
# boots that kernel and initramfs directly, as a bootloader would after an
# upgrade. The console goes to LOGPREFIX.console, the results port (ttyS1) to
# LOGPREFIX.results. A guest reboot ends QEMU (-no-reboot).
# BASE is the base image directory (run.sh). no_timer_check: an emulated CPU
# on a busy host can fail the kernel's early timer check ("IO-APIC + timer
# doesn't work!" panic), as seen with two guests on two cores.
# shellcheck disable=SC2153
boot_vm() {
	local disk=$1 prefix=$2 kernel=${3:-} rc=0
	timeout -k 10 "${BOOT_TIMEOUT:-$E2E_BOOT_TIMEOUT}" qemu-system-x86_64 \
		-accel tcg -cpu max -m "$E2E_QEMU_MEM" -smp "$E2E_QEMU_SMP" -no-reboot \
		-kernel "$BASE/vmlinuz$kernel" -initrd "$BASE/initrd$kernel.img" \
		-append "root=/dev/vda rw console=ttyS0,115200 panic=-1 net.ifnames=0 no_timer_check" \
		-drive "file=$disk,format=raw,if=virtio,cache=unsafe" \
		-nic none -display none -monitor none -no-user-config -nodefaults \
		-serial "file:$prefix.console" -serial "file:$prefix.results" \
		>"$prefix.qemu" 2>&1 || rc=$?
	if ((rc == 124 || rc == 137)); then
		echo timeout
	elif grep -aq 'Kernel panic' "$prefix.console"; then
		echo panic
	elif grep -aq 'reboot: Power down' "$prefix.console"; then
		echo poweroff
	elif grep -aq 'reboot: Restarting system' "$prefix.console"; then
		echo reboot
	else
		echo "crash(rc=$rc)"
	fi
}
