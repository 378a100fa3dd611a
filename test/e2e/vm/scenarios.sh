# shellcheck shell=bash
# The scenarios of the VM end-to-end test. Each builds a disk, boots it until
# the guest powers itself off (or a boot limit), then asserts. A scenario adds
# rows to the report with row_begin/row_end.

IMG=127.0.0.1:5000/e2e
# The OOT dummy's MODULE_VERSION (kmod/oot.c), and the one of the dummy2
# image (run.sh rewrites it in place: same length).
OOT_VERSION=day1kmod-e2e-oot
DUMMY2_VERSION=day1kmod-e2e-new
# The stand-in ostree's OS name and the bootloader entry it makes the default
# (guest/usr/local/bin/ostree).
OSTREE_DEFAULT_ENTRY=/boot/loader/entries/ostree-2-rhcos.conf

# boot_until_poweroff DISK MAX: boots DISK again and again while the guest
# reboots itself, at most MAX boots in all for this scenario. Each boot runs
# the kernel the guest's bootloader would (next_kernel). Sets BOOTS and
# ENDINGS. A boot that times out, panics or crashes ends the loop. The journal
# is split from the last boot when it reported (a power off, or the stand-in
# MCD's reboot after the report).
boot_until_poweroff() {
	local disk=$1 max=$2 ending started kernel
	while ((BOOTS < max)); do
		kernel=$(next_kernel "$disk") || die "$SD: the bootloader entry names a kernel the suite has not: $kernel"
		BOOTS=$((BOOTS + 1))
		started=$SECONDS
		ending=$(boot_vm "$disk" "$SD/boot-$BOOTS" "$kernel")
		ENDINGS+=("$ending")
		BOOT_SECS+=("$((SECONDS - started))")
		log "  boot $BOOTS: $ending after $((SECONDS - started)) s (kernel ${kernel:-1})"
		[[ $ending == reboot ]] || break
	done
	grep -aq '^E2E-JOURNAL-END' "$SD/boot-$BOOTS.results" 2>/dev/null && split_journal "$BOOTS"
	return 0
}

# next_kernel DISK: the kernel the guest's bootloader boots next, as boot_vm
# takes it ("" or 2): the one of the default entry the stand-in ostree's
# finalization wrote on DISK; the first kernel when there is none.
next_kernel() {
	local k
	k=$(read_file "$1" "$OSTREE_DEFAULT_ENTRY" | sed -n 's|^linux /boot/vmlinuz-||p')
	case $k in
	"" | "$KVER") echo "" ;;
	"$KVER2") echo 2 ;;
	*)
		echo "$k"
		return 1
		;;
	esac
}

# mcd_update N ACTION...: has the stand-in MCD apply ACTIONs (lines, see
# guest/usr/local/libexec/e2e/mcd-update.sh) and reboot at the end of boot N,
# once that boot reported. Called from a make_disk hook with the root as $STAGE.
mcd_update() {
	local n=$1
	shift
	mkdir -p "$STAGE/var/lib/e2e"
	printf '%s\n' "$@" >"$STAGE/var/lib/e2e/mcd-update.$n"
}

# make_disk NAME MODULES_JSON [HOOK]: a disk with the MachineConfig(s) of
# MODULES_JSON (none when "[]") applied by the real Ignition, plus the test's
# guest files; HOOK, when given, is called with the staged root directory to
# add or replace files of this scenario only.
make_disk() {
	local name=$1 modules=$2 hook=${3:-} stage
	SD="$WORK/$name"
	mkdir -p "$SD"
	BOOTS=0
	ENDINGS=()
	BOOT_SECS=()
	stage="$SD/stage"
	mkdir -p "$stage"
	if [[ $modules != "[]" ]]; then
		echo "$modules" >"$SD/modules.json"
		"$BIN/mkignition" -in "$SD/modules.json" -out "$SD/machineconfig" || die "$name: mkignition failed"
		apply_ignition "$SD/machineconfig/config.ign" "$stage" "$SD"
	fi
	cp -a "$E2E_DIR/guest/." "$stage/"
	install -D -m 0755 "$BIN/registry" "$stage/usr/local/libexec/e2e/registry"
	mkdir -p "$stage/var/lib/e2e/images"
	cp "$WORK"/images/*.tar "$stage/var/lib/e2e/images/"
	STAGE=$stage
	[[ -z $hook ]] || "$hook" "$stage"
	cp --sparse=always "$WORK/base.img" "$SD/disk.img"
	write_tree "$stage" "$SD/disk.img"
}

# module_json N IMAGE MODULE EXTRA: one Day 1 kernel module, as mkignition reads it.
module_json() {
	printf '{"name": "%s", "machineConfigPool": "worker", "kernelModuleImage": "%s", "kernelModuleName": "%s"%s}' "$1" "$2" "$3" "${4:-}"
}

# unit_secs K UNIT_REGEX: how long boot K's units matching UNIT_REGEX ran
# (journal start to end, summed), as "1.23 s" or "1.23 s (2 units)"; "-" when none ran.
unit_secs() {
	awk -v re="$2" '
		function t(line) { sub(/^\[ */, "", line); sub(/\].*/, "", line); return line + 0 }
		match($0, "Starting " re "\\.service") { u = substr($0, RSTART + 9, RLENGTH - 9); start[u] = t($0) }
		match($0, "(Finished|Failed to start) " re "\\.service") {
			u = substr($0, RSTART, RLENGTH); sub(/^(Finished|Failed to start) /, "", u)
			if (u in start) { sum += t($0) - start[u]; n++; delete start[u] }
		}
		END { if (n) printf "%.1f s%s", sum, (n > 1 ? " (" n " units)" : ""); else printf "-" }' "$SD/journal/boot-$1.log" 2>/dev/null
}

# secs T: T (seconds) as "12.3 s", nothing when T is empty.
secs() { [[ -z $1 ]] || printf '%.1f s' "$1"; }

# timing K: from boot K's journal (monotonic seconds since kernel start),
# separated by "|": network-pre.target reached, NetworkManager starting, the
# time the day1kmod load units and gate (pull) units took, the kubelet
# starting, the journal's last line (the reboot or the probe's power off).
timing() {
	local netpre nm kubelet end
	netpre=$(jts "$1" 'Reached target network-pre.target')
	nm=$(jts "$1" 'Starting NetworkManager.service')
	kubelet=$(jts "$1" "$KUBELET_STARTS")
	end=$({ tail -n 1 "$SD/journal/boot-$1.log" 2>/dev/null || true; } | sed -nE 's/^\[ *([0-9]+\.[0-9]+)\].*/\1/p')
	printf '%s|%s|%s|%s|%s|%s\n' "$(secs "$netpre")" "$(secs "$nm")" "$(unit_secs "$1" 'day1kmod-load-[^ ]+')" \
		"$(unit_secs "$1" 'day1kmod-pull-[^ ]+')" "$(secs "$kubelet")" "$(secs "$end")"
}

# load_before_netpre K N: boot K's load unit for N ended before network-pre.target.
load_before_netpre() {
	local ended netpre
	ended=$(jts "$1" "(Finished|Failed to start) day1kmod-load-$2.service")
	netpre=$(jts "$1" 'Reached target network-pre.target')
	lt "$ended" "$netpre"
}

oot_loaded() { # N MODULE TAG [VERSION]: boot N reports the OOT module (VERSION, default the base image's) loaded with TAG
	eq "$(res "$1" "module.$2")" "loaded version=${4:-$OOT_VERSION} tag=$3"
}
intree_loaded() { # N MODULE: boot N reports the in-tree module (no version) loaded
	eq "$(res "$1" "module.$2")" "loaded version=- tag=-"
}
unit_is() { # N UNIT STATE RESULT
	local got
	got=$(res "$1" "unit.$2")
	eq "${got%% status=*}" "$3 result=$4"
}
pulled() { # K: the registry served a manifest in boot K
	jhas "$1" 'registry.*GET /v2/.*/manifests/'
}
status_is() { # N NAME KEY VALUE: boot N's /run/day1kmod/NAME.status has KEY=VALUE
	eq "$(res "$1" "status.$2.$3")" "$4"
}
kubelet_saw() { # N DUMMY: boot N's kubelet started and saw dummy as DUMMY
	local got
	got=$(res "$1" kubelet)
	eq "${got#* dummy=}" "$2"
}
# after K REGEX_A REGEX_B: in boot K's journal the first line matching REGEX_B
# comes after the first matching REGEX_A, both present.
after() {
	lt "$(jts "$1" "$2")" "$(jts "$1" "$3")"
}
# gap K REGEX_A REGEX_B: the seconds from boot K's first line matching
# REGEX_A to its first matching REGEX_B; empty when either is missing.
gap() {
	local a b
	a=$(jts "$1" "$2")
	b=$(jts "$1" "$3")
	[[ -n $a && -n $b ]] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b - a }'
}
# after_by K REGEX_A REGEX_B SECS: REGEX_B's line is at least SECS after REGEX_A's.
after_by() { holds "$(gap "$1" "$2" "$3")" '>=' "$4"; }
# within K REGEX_A REGEX_B SECS: REGEX_B's line is less than SECS after REGEX_A's.
within() { holds "$(gap "$1" "$2" "$3")" '<' "$4"; }
# stop_secs K UNIT: how long boot K's shutdown took to stop UNIT ("Stopping"
# to "Stopped" in the journal), in seconds; empty when it was not stopped.
stop_secs() { gap "$1" "Stopping $2" "Stopped $2"; }
# stop_within K UNIT SECS: boot K's shutdown stopped UNIT in SECS or less.
stop_within() { holds "$(stop_secs "$1" "$2")" '<=' "$3"; }
# stop_over K UNIT SECS: boot K's shutdown took SECS or more to stop UNIT.
stop_over() { holds "$(stop_secs "$1" "$2")" '>=' "$3"; }
# shutdown_secs K: how long boot K's shutdown took, from its request (logind's
# "System is rebooting/powering down", else the first unit stopping) to the
# boot's last journal line.
shutdown_secs() {
	local a b
	a=$(jts "$1" 'systemd-logind\[[0-9]+\]: System is (rebooting|powering down)')
	[[ -n $a ]] || a=$(jts "$1" 'systemd\[1\]: Stopping ')
	b=$({ tail -n 1 "$SD/journal/boot-$1.log" 2>/dev/null || true; } | sed -nE 's/^\[ *([0-9]+\.[0-9]+)\].*/\1/p')
	[[ -n $a && -n $b ]] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", b - a }'
}
PREFETCH_UNIT=day1kmod-prefetch-dummy.service
# jhas_after K REGEX_A REGEX_B: some line of boot K's journal matching REGEX_B
# comes after the first line matching REGEX_A.
jhas_after() {
	awk -v a="$2" -v b="$3" 'on && $0 ~ b { found = 1; exit } $0 ~ a { on = 1 } END { exit !found }' "$SD/journal/boot-$1.log" 2>/dev/null
}
# jhas_before K REGEX_A REGEX_B: some line of boot K's journal matching
# REGEX_A comes before the first line matching REGEX_B (or REGEX_B is absent).
jhas_before() {
	awk -v a="$2" -v b="$3" '$0 ~ b { exit } $0 ~ a { found = 1; exit } END { exit !found }' "$SD/journal/boot-$1.log" 2>/dev/null
}
# jhas_in K1 K2 REGEX: boot K1's or boot K2's journal has REGEX.
jhas_in() { jhas "$1" "$3" || jhas "$2" "$3"; }
# console_has N STRING: boot N's serial console shows STRING.
console_has() { grep -aqF "$2" "$SD/boot-$1.console"; }
# no_ordering_cycle K: systemd found no ordering cycle in boot K (it would
# drop a job to break it: a unit's start or stop silently not run).
no_ordering_cycle() {
	not jhas "$1" 'ordering cycle|Transaction order is cyclic'
}
# disk_ls DISK DIR: the names in DIR on DISK, space separated.
disk_ls() {
	debugfs -R "ls -p $2" "$1" 2>/dev/null | awk -F/ 'NF > 6 && $6 != "." && $6 != ".." { print $6 }' | xargs
}

# disk_file_size DISK PATH: size in bytes of PATH on the disk image ("" when absent).
disk_file_size() {
	debugfs -R "stat $2" "$1" 2>/dev/null | sed -nE 's/.*[[:space:]]Size: ([0-9]+).*/\1/p' | head -n 1
}
# tree_dir DISK NAME KERNEL: the directory the link of NAME's tree for KERNEL
# names on DISK (the fetch switches trees by replacing that link).
tree_dir() {
	local link
	link=$(debugfs -R "stat /var/lib/day1kmod/$2/$3" "$1" 2>/dev/null | sed -nE 's/^Fast link dest: "(.*)"$/\1/p')
	[[ -n $link ]] && echo "/var/lib/day1kmod/$2/$link"
}
# damage_ko DISK NAME MODULE KERNEL: cuts the extracted MODULE.ko of NAME's
# tree for KERNEL on DISK to half its size (as a disk fault or a crash would leave it), written
# with debugfs as the suite writes files. Sets DAMAGED_KO (its path) and
# DAMAGED_KO_SIZE (its size before).
damage_ko() {
	local disk=$1 dir cmds
	dir=$(tree_dir "$disk" "$2" "$4") || die "no tree for $2 on $disk"
	DAMAGED_KO=$dir/lib/modules/$4/extra/$3.ko
	debugfs -R "dump $DAMAGED_KO $SD/$3.ko.orig" "$disk" >/dev/null 2>&1
	DAMAGED_KO_SIZE=$(stat -c %s "$SD/$3.ko.orig")
	((DAMAGED_KO_SIZE > 0)) || die "could not read $DAMAGED_KO from $disk"
	head -c $((DAMAGED_KO_SIZE / 2)) "$SD/$3.ko.orig" >"$SD/$3.ko.damaged"
	cmds=$(mktemp)
	printf 'cd %s\nrm %s.ko\nwrite %s %s.ko\n' "${DAMAGED_KO%/*}" "$3" "$SD/$3.ko.damaged" "$3" >"$cmds"
	debugfs -w -f "$cmds" "$disk" >/dev/null 2>&1
	rm -f "$cmds"
	[[ $(disk_file_size "$disk" "$DAMAGED_KO") == $((DAMAGED_KO_SIZE / 2)) ]] || die "could not damage $DAMAGED_KO on $disk"
	log "  damaged $DAMAGED_KO: $DAMAGED_KO_SIZE -> $((DAMAGED_KO_SIZE / 2)) bytes"
}
KUBELET_STARTS='e2e: kubelet starts'
GATE_FINISHED='Finished day1kmod-pull-dummy.service'

# --- scenarios ----------------------------------------------------------------

scenario_baseline() {
	make_disk baseline "[]"
	row_begin "no MachineConfig (baseline)"
	boot_until_poweroff "$SD/disk.img" 1
	# A second boot, so that the first one's shutdown (a plain power off,
	# nothing of day1kmod) is in the journal: the figure to compare with.
	boot_until_poweroff "$SD/disk.img" 2
	check "2 boots, each powered off by the probe" eq "${ENDINGS[*]}" "poweroff poweroff"
	check "in-tree dummy loaded" intree_loaded 2 dummy
	check "no failed unit" eq "$(res 2 failed)" ""
	check "NetworkManager started" jhas 2 'Started NetworkManager.service'
	check "boot 1's shutdown is in the journal" jhas 1 'e2e: probe: powering off'
	row_end 1 2 1
}

# An old kernel's tree as an earlier kernel upgrade left it (with its reboot
# stamp): the prune rule must remove it once two newer kernels have trees.
OLD_KVER=6.1.0-0-old-amd64
plant_old_tree() {
	local dir=$1/var/lib/day1kmod/dummy
	mkdir -p "$dir/$OLD_KVER/lib/modules/$OLD_KVER/extra"
	printf '# What day1kmod extracted into this directory.\nname=dummy\nimage=%s\nreference=%s\ndigest=sha256:%064d\nkernel=%s\nmodule=dummy\nfirmware_path=\n' \
		"$IMG/dummy" "$IMG/dummy:$OLD_KVER" 0 "$OLD_KVER" >"$dir/$OLD_KVER/record"
	printf 'kernel=%s\ndigest=sha256:%064d\n' "$OLD_KVER" 0 >"$dir/rebooted-$OLD_KVER-sha256_$(printf '%064d' 0)"
}

# replace: the old kernel's tree, and the MCD's two updates: kernel B at the
# end of boot 2, the image edit (dummy2) at the end of boot 3.
replace_disk() {
	plant_old_tree "$1"
	mcd_update 2 "kernel $KVER2"
	mcd_update 3 "image dummy $IMG/dummy2:\${KERNEL_FULL_VERSION}"
}

# How long the prefetch's stop may take when it has nothing to fetch. On a
# node that is well under a second (a look at the deployments and the tree);
# the emulated guest runs the script some 20 times slower (measured 1.9 to
# 5.0 s, about 2 s of it CPU, two guests on two busy cores). A wait on the
# registry or the network (the script's queries are bounded at 10 s) would
# take longer; the registry requests are checked too.
PREFETCH_NOTHING_SECS=8
# prefetch_nothing_checks K KERNEL: boot K's shutdown found the tree for
# KERNEL current and fetched nothing, quickly.
prefetch_nothing_checks() {
	check "the prefetch logs 'nothing to fetch' for kernel $2" jhas "$1" "day1kmod\\[dummy\\]: next boot: modules for kernel $2 are on disk at .*: nothing to fetch"
	check "its stop took ${PREFETCH_NOTHING_SECS} s or less (emulated CPU)" stop_within "$1" "$PREFETCH_UNIT" "$PREFETCH_NOTHING_SECS"
	check "no registry request during the shutdown" not jhas_after "$1" "Stopping $PREFETCH_UNIT" 'registry.*GET /v2/'
}

scenario_replace() {
	make_disk replace "[$(module_json dummy "$IMG/dummy" dummy ', "moduleParameters": ["tag=day1"]')]" replace_disk
	boot_until_poweroff "$SD/disk.img" 4
	row_begin "first boot, image not on node"
	check "boot 1 ends in a reboot" eq "${ENDINGS[0]}" reboot
	check "load logs 'nothing on disk'" jhas 1 'day1kmod.*nothing on disk'
	check "load unit succeeds" jhas 1 'Finished day1kmod-load-dummy.service'
	check "network comes up (network-online.target)" jhas 1 'Reached target network-online.target'
	check "the gate starts the fetch unit" jhas 1 'Start(ing|ed) day1kmod-fetch-dummy.service'
	check "fetch pulls the image" pulled 1
	check "fetch extracts the tree before the reboot" jhas 1 "day1kmod\\[dummy\\]: modules for kernel $KVER are in "
	check "fetch finishes" jhas 1 'Finished day1kmod-fetch-dummy.service|day1kmod-fetch-dummy.service: Deactivated successfully'
	check "the gate reboots" jhas 1 'day1kmod\[dummy\]: rebooting'
	row_end 1 1 0

	row_begin "the gate's reboot: nothing to fetch at shutdown"
	prefetch_nothing_checks 1 "$KVER"
	check "next boot's status: prefetch_result=current for kernel A" eq "$(res 2 status.dummy.prefetch_result) $(res 2 status.dummy.prefetch_kernel)" "current $KVER"
	row_end 1 1 1

	row_begin "second boot"
	check "boot 2 ran to its end (the MCD's reboot after its report)" eq "$(res 2 state) ${ENDINGS[1]}" "running reboot"
	check "load ends before network-pre.target (journal order)" load_before_netpre 2 dummy
	check "OOT dummy loaded with tag=day1 (in-tree one unloaded)" oot_loaded 2 dummy day1
	check "load unit active" unit_is 2 day1kmod-load-dummy.service active success
	check "gate finds the tree current, lets the kubelet start" jhas 2 "day1kmod\\[dummy\\]: modules for kernel $KVER are on disk at .*: nothing to fetch, the kubelet may start"
	# The gate starts the fetch unit on every boot, to ask the registry in
	# the background whether the tag moved (the guest has no skopeo: the
	# fetch says so and checks nothing).
	check "the background fetch fetches nothing: no pull, no new tree" not jhas 2 "registry.*GET /v2/.*/manifests/$KVER|day1kmod\\[dummy\\]: modules for kernel $KVER are in "
	check "and says the tree is current" jhas 2 "day1kmod\\[dummy\\]: modules for kernel $KVER are already on disk at .*: nothing to fetch"
	check "status: loaded=oot" status_is 2 dummy loaded oot
	check "status: module_version of the OOT module" status_is 2 dummy module_version "$OOT_VERSION"
	check "status: load_result=loaded" status_is 2 dummy load_result loaded
	check "status: pull_result=current" status_is 2 dummy pull_result current
	check "status: reboot_pending=no" status_is 2 dummy reboot_pending no
	check "an older kernel's tree is kept beside it (the newest other one)" contains "$(res 2 var-lib-day1kmod)" "dummy/$OLD_KVER"
	check "no failed unit" eq "$(res 2 failed)" ""
	check "system running" eq "$(res 2 state)" running
	row_end 2 2 1

	row_begin "kubelet ordering (boots 1-2)"
	check "fetching boot: the kubelet never starts (the gate reboots before it)" not jhas 1 "$KUBELET_STARTS"
	check "fetching boot: the gate holds the kubelet (ordered before it)" jhas 1 'Start(ing|ed) day1kmod-pull-dummy.service'
	check "next boot: the kubelet starts after the gate finished" after 2 "$GATE_FINISHED" "$KUBELET_STARTS"
	check "next boot: the OOT module is loaded before the kubelet starts" after 2 "day1kmod\\[dummy\\]: loaded out-of-tree module" "$KUBELET_STARTS"
	check "next boot: the kubelet sees the OOT dummy" kubelet_saw 2 "oot version=$OOT_VERSION"
	row_end 1 2 0

	# Kernel upgrade: the stand-in MCD stages kernel B at the end of boot 2
	# and reboots; the shutdown fetches B's tree.
	row_begin "kernel upgrade at the MCD's shutdown: 1 reboot"
	check "the MCD staged kernel B and rebooted" jhas 2 "e2e: MCD update: staging the OS with kernel $KVER2"
	check "no ordering cycle (the prefetch's stop and ostree's finalization both run)" no_ordering_cycle 2
	check "the prefetch starts after the kubelet stopped" after 2 'Stopped kubelet.service' "day1kmod\\[dummy\\]: next boot: "
	check "it fetches B's image, bounded by maxShutdownDelay (default 5m)" jhas 2 "day1kmod\\[dummy\\]: next boot: no current tree for kernel $KVER2 \\(the next deployment [0-9a-f]{12}\\.0\\): fetching image '$IMG/dummy:$KVER2', at most 300s \\(maxShutdownDelay\\)"
	check "the registry serves B's manifest during the shutdown" jhas_after 2 "Stopping $PREFETCH_UNIT" "registry.*GET /v2/e2e/dummy/manifests/$KVER2"
	check "B's tree is committed" jhas 2 "day1kmod\\[dummy\\]: modules for kernel $KVER2 are in "
	check "and the prefetch says the next boot needs no reboot of day1kmod's own" jhas 2 "day1kmod\\[dummy\\]: next boot: fetched image '$IMG/dummy:$KVER2' for kernel $KVER2 in [0-9]+s: the next boot loads 'dummy' without a reboot of day1kmod's own"
	check "the prefetch ends before NetworkManager stops" after 2 "Stopped $PREFETCH_UNIT" 'Stopping NetworkManager.service'
	check "ostree finalized the staged deployment" jhas 2 'ostree\[[0-9]+\]: finalized rhcos'
	check "boot 3 runs kernel B" eq "$(res 3 kernel)" "$KVER2"
	check "boot 3 ran to its end: no reboot of day1kmod's own" eq "$(res 3 state) ${ENDINGS[2]}" "running reboot"
	check "boot 3: nobody but the MCD rebooted" not jhas 3 'day1kmod\[dummy\]: rebooting'
	check "load ends before network-pre.target" load_before_netpre 3 dummy
	check "OOT dummy for kernel B loaded with tag=day1" oot_loaded 3 dummy day1
	check "the gate finds B's tree current" jhas 3 "day1kmod\\[dummy\\]: modules for kernel $KVER2 are on disk at .*: nothing to fetch, the kubelet may start"
	check "the kubelet starts after the OOT module was loaded" after 3 "day1kmod\\[dummy\\]: loaded out-of-tree module" "$KUBELET_STARTS"
	check "the kubelet sees the OOT dummy" kubelet_saw 3 "oot version=$OOT_VERSION"
	check "nothing extracted on boot 3 before the MCD's next update" not jhas_before 3 "day1kmod\\[dummy\\]: modules for kernel $KVER2 are in " 'e2e: MCD update: '
	check "status: kernel B, loaded=oot" eq "$(res 3 status.dummy.kernel) $(res 3 status.dummy.loaded)" "$KVER2 oot"
	check "status: pull_result=current, reboot_pending=no" eq "$(res 3 status.dummy.pull_result) $(res 3 status.dummy.reboot_pending)" "current no"
	check "status: prefetch_result=fetched for kernel B" eq "$(res 3 status.dummy.prefetch_result) $(res 3 status.dummy.prefetch_kernel)" "fetched $KVER2"
	check "kernel B's tree is on disk" contains "$(res 3 var-lib-day1kmod)" "/var/lib/day1kmod/dummy/$KVER2"
	check "kernel A's tree is kept (the previous kernel: a rollback works)" contains "$(res 3 var-lib-day1kmod) " "/var/lib/day1kmod/dummy/$KVER "
	check "the older kernel's tree is pruned" lacks "$(res 3 var-lib-day1kmod)" "dummy/$OLD_KVER"
	check "and its reboot stamp" lacks "$(res 3 var-lib-day1kmod)" "rebooted-$OLD_KVER"
	check "the removal of the tree is logged, naming the kernel" jhas_in 2 3 "day1kmod\\[dummy\\]: removing the tree of kernel $OLD_KVER"
	check "and of its stamp" jhas_in 2 3 "day1kmod\\[dummy\\]: removing the reboot stamp .*rebooted-$OLD_KVER"
	check "no failed unit" eq "$(res 3 failed)" ""
	row_end 2 3 2

	# Image edit: the MCD writes the config with the dummy2 image at the end
	# of boot 3 and reboots (same kernel): the shutdown fetches dummy2.
	row_begin "image edit at the MCD's shutdown: 1 reboot"
	check "the MCD wrote the new image into the config" jhas 3 "e2e: MCD update: writing /etc/day1kmod/dummy.conf: image=$IMG/dummy2:"
	check "the prefetch fetches the new image for the running kernel" jhas 3 "day1kmod\\[dummy\\]: next boot: no current tree for kernel $KVER2 \\(the running kernel\\): fetching image '$IMG/dummy2:$KVER2'"
	check "and says the next boot needs no reboot of day1kmod's own" jhas 3 "day1kmod\\[dummy\\]: next boot: fetched image '$IMG/dummy2:$KVER2' for kernel $KVER2 in [0-9]+s"
	check "boot 4 powers off: no reboot of day1kmod's own" eq "${ENDINGS[*]}" "reboot reboot reboot poweroff"
	check "boot 4 runs kernel B" eq "$(res 4 kernel)" "$KVER2"
	check "load ends before network-pre.target" load_before_netpre 4 dummy
	check "dummy2's module loaded ($DUMMY2_VERSION), tag=day1" oot_loaded 4 dummy day1 "$DUMMY2_VERSION"
	check "the gate finds the tree current" jhas 4 "day1kmod\\[dummy\\]: modules for kernel $KVER2 are on disk at .*: nothing to fetch, the kubelet may start"
	check "the kubelet sees dummy2's module" kubelet_saw 4 "oot version=$DUMMY2_VERSION"
	check "status: module_version=$DUMMY2_VERSION, prefetch_result=fetched" eq "$(res 4 status.dummy.module_version) $(res 4 status.dummy.prefetch_result)" "$DUMMY2_VERSION fetched"
	check "no failed unit" eq "$(res 4 failed)" ""
	row_end 3 4 3
}

# The install-time boot: the MCD's firstboot service rebases to kernel B
# (staged through the stand-in ostree) and reboots.
encapsulated_config() {
	printf '{"spec": {"osImageURL": "e2e:%s"}}\n' "$KVER2" >"$1/etc/ignition-machine-config-encapsulated.json"
}

scenario_install_boot() {
	make_disk install-boot "[$(module_json dummy "$IMG/dummy" dummy ', "moduleParameters": ["tag=day1"]')]" encapsulated_config
	row_begin "install-time boot: 1 reboot (MCD firstboot's)"
	boot_until_poweroff "$SD/disk.img" 3
	check "the firstboot's reboot, then power off" eq "${ENDINGS[*]}" "reboot poweroff"
	check "boot 1: the MCD firstboot stand-in staged kernel B and rebooted" jhas 1 'e2e: MCD firstboot: rebase done, rebooting'
	check "boot 1: no gate run" not jhas 1 'Start(ing|ed) day1kmod-pull-dummy.service'
	check "boot 1: no fetch unit" not jhas 1 'Start(ing|ed) day1kmod-fetch-dummy.service'
	check "boot 1: no ordering cycle" no_ordering_cycle 1
	check "boot 1's shutdown fetches B's image" jhas 1 "day1kmod\\[dummy\\]: next boot: no current tree for kernel $KVER2 \\(the next deployment [0-9a-f]{12}\\.0\\): fetching image '$IMG/dummy:$KVER2'"
	check "the registry serves it then" jhas_after 1 "Stopping $PREFETCH_UNIT" "registry.*GET /v2/e2e/dummy/manifests/$KVER2"
	check "and says the next boot needs no reboot of day1kmod's own" jhas 1 "day1kmod\\[dummy\\]: next boot: fetched image '$IMG/dummy:$KVER2' for kernel $KVER2 in [0-9]+s"
	check "boot 2 runs kernel B" eq "$(res 2 kernel)" "$KVER2"
	check "boot 2: no firstboot (its file is gone)" not jhas 2 'e2e: MCD firstboot: rebasing'
	check "boot 2: load ends before network-pre.target" load_before_netpre 2 dummy
	check "boot 2: OOT dummy loaded with tag=day1" oot_loaded 2 dummy day1
	check "boot 2: the gate finds the tree current" jhas 2 "day1kmod\\[dummy\\]: modules for kernel $KVER2 are on disk at .*: nothing to fetch, the kubelet may start"
	check "boot 2: the kubelet sees the OOT dummy" kubelet_saw 2 "oot version=$OOT_VERSION"
	check "status: loaded=oot, pull_result=current, prefetch_result=fetched" eq "$(res 2 status.dummy.loaded) $(res 2 status.dummy.pull_result) $(res 2 status.dummy.prefetch_result)" "oot current fetched"
	check "no failed unit" eq "$(res 2 failed)" ""
	row_end 1 2 1

	# The tree is damaged between boots: the next boot refuses it before
	# unloading anything, the gate fetches it again and reboots once.
	damage_ko "$SD/disk.img" dummy dummy "$KVER2"
	row_begin "damaged tree: refused, fetched again"
	boot_until_poweroff "$SD/disk.img" 4
	check "one reboot (the repair), then a power off" eq "${ENDINGS[*]:2}" "reboot poweroff"
	check "still kernel B" eq "$(res 4 kernel)" "$KVER2"
	check "the load refuses the tree, naming the damaged file" jhas 3 "day1kmod\\[dummy\\]: ERROR: the tree at .* is damaged: .*dummy\\.ko"
	check "the load unit fails" jhas 3 'Failed to start day1kmod-load-dummy.service'
	check "nothing unloaded: the in-tree driver stays" not jhas 3 "day1kmod\\[dummy\\]: unloading in-tree module"
	check "the OOT module is not loaded" not jhas 3 "day1kmod\\[dummy\\]: loading out-of-tree module"
	check "the gate fetches the tree again" jhas 3 "day1kmod\\[dummy\\]: warning: the tree at .* is damaged .*fetching it again"
	check "the fetch pulls the image again" pulled 3
	check "and extracts the tree again" jhas 3 "day1kmod\\[dummy\\]: modules for kernel $KVER2 are in "
	check "the kubelet never starts on the repairing boot" not jhas 3 "$KUBELET_STARTS"
	row_end 3 3 2

	row_begin "damaged tree: next boot"
	check "OOT dummy loaded with tag=day1" oot_loaded 4 dummy day1
	check "load ends before network-pre.target" load_before_netpre 4 dummy
	check "the kubelet sees the OOT dummy" kubelet_saw 4 "oot version=$OOT_VERSION"
	check "status: loaded=oot, load_result=loaded, pull_result=current" eq "$(res 4 status.dummy.loaded) $(res 4 status.dummy.load_result) $(res 4 status.dummy.pull_result)" "oot loaded current"
	check "the repair's reboot: the prefetch had nothing to fetch" jhas 3 "day1kmod\\[dummy\\]: next boot: modules for kernel $KVER2 are on disk at .*: nothing to fetch"
	check "no failed unit" eq "$(res 4 failed)" ""
	check "on disk: the module has its full size again" eq "$(disk_file_size "$SD/disk.img" "$(tree_dir "$SD/disk.img" dummy "$KVER2")/lib/modules/$KVER2/extra/dummy.ko")" "$DAMAGED_KO_SIZE"
	row_end 4 4 3
}

# The registry answers only once the gate gave up, on the first boot only: a
# unit of its own that waits for the gate to be done, then marks the later
# boots, which have the suite's usual registry (up before
# network-online.target), so that they are deterministic. At the end of boot 2
# the stand-in MCD stops the registry, stages kernel B and reboots.
late_registry() {
	mkdir -p "$1/etc/systemd/system/e2e-registry.service.d"
	printf '[Unit]\nConditionPathExists=/var/lib/e2e/registry-on-time\n' >"$1/etc/systemd/system/e2e-registry.service.d/e2e-late.conf"
	cat >"$1/etc/systemd/system/e2e-registry-late.service" <<-'EOF2'
		# The registry of the registry-late scenario's first boot: up only after
		# the day1kmod gate for dummy gave up waiting (the node's registry was
		# unreachable). Later boots run e2e-registry.service.
		[Unit]
		Description=day1kmod e2e: container registry on 127.0.0.1:5000, late
		ConditionPathExists=!/var/lib/e2e/registry-on-time

		[Service]
		Type=notify
		TimeoutStartSec=infinity
		ExecStartPre=/bin/sh -c 'for i in $$(seq 600); do systemctl -q is-active day1kmod-pull-dummy.service && break; sleep 1; done; echo "e2e: registry starting late"; sleep 5'
		ExecStart=/usr/local/libexec/e2e/registry -listen 127.0.0.1:5000 -images /var/lib/e2e/images
		ExecStartPost=/bin/touch /var/lib/e2e/registry-on-time

		[Install]
		WantedBy=multi-user.target
	EOF2
	mcd_update 2 stop-registry "kernel $KVER2"
}

# maxKubeletDelay of registry-late: the gate's fallback on boot 3 (kernel B)
# must fetch within it; measured up to 32 s on an emulated CPU with a loaded
# host (30 s was too short once).
LATE_DELAY=60
SHUTDOWN_DELAY=30
scenario_registry_late() {
	make_disk registry-late "[$(module_json dummy "$IMG/dummy" dummy ", \"moduleParameters\": [\"tag=day1\"], \"maxKubeletDelay\": \"${LATE_DELAY}s\", \"maxShutdownDelay\": \"${SHUTDOWN_DELAY}s\"")]" late_registry
	row_begin "registry unreachable past maxKubeletDelay (${LATE_DELAY}s)"
	boot_until_poweroff "$SD/disk.img" 1
	check "boot 1 powers off: no reboot when the fetch ends late (default policy)" eq "${ENDINGS[0]}" poweroff
	check "the gate gives up, at error priority, saying why" jhas 1 "day1kmod\\[dummy\\]: ERROR: .* within ${LATE_DELAY}s .*in-tree driver"
	check "the kubelet starts after the gate finished" after 1 "$GATE_FINISHED" "$KUBELET_STARTS"
	check "the kubelet starts ${LATE_DELAY}s or more after the gate began" after_by 1 'Starting day1kmod-pull-dummy.service' "$KUBELET_STARTS" "$LATE_DELAY"
	check "the kubelet sees the in-tree dummy" kubelet_saw 1 in-tree
	check "the registry served only after the gate gave up" after 1 "$GATE_FINISHED" 'registry\[[0-9]+\]: serving [0-9]+ images'
	check "the fetch pulls once the registry is back" pulled 1
	check "the fetch extracts the tree" jhas 1 "day1kmod\\[dummy\\]: modules for kernel $KVER are in "
	check "in-tree dummy still loaded" intree_loaded 1 dummy
	check "status: loaded=in-tree" status_is 1 dummy loaded in-tree
	check "status: pull_result=staged" status_is 1 dummy pull_result staged
	check "status: reboot_pending=yes" status_is 1 dummy reboot_pending yes
	check "no failed unit" eq "$(res 1 failed)" ""
	row_end 1 1 0

	# Boot 2 alone: the disk is read right after its shutdown.
	boot_until_poweroff "$SD/disk.img" 2
	row_begin "registry unreachable: next boot"
	check "boot 2 ran to its end (the MCD's reboot after its report)" eq "$(res 2 state) ${ENDINGS[1]}" "running reboot"
	check "OOT dummy loaded with tag=day1" oot_loaded 2 dummy day1
	check "load ends before network-pre.target" load_before_netpre 2 dummy
	check "the kubelet sees the OOT dummy" kubelet_saw 2 "oot version=$OOT_VERSION"
	check "status: loaded=oot, pull_result=current, reboot_pending=no" eq "$(res 2 status.dummy.loaded) $(res 2 status.dummy.pull_result) $(res 2 status.dummy.reboot_pending)" "oot current no"
	check "boot 1's power off: the prefetch had nothing to fetch" jhas 1 "day1kmod\\[dummy\\]: next boot: modules for kernel $KVER are on disk at .*: nothing to fetch"
	check "boot 1's power off: its stop took ${PREFETCH_NOTHING_SECS} s or less (emulated CPU)" stop_within 1 "$PREFETCH_UNIT" "$PREFETCH_NOTHING_SECS"
	check "no failed unit" eq "$(res 2 failed)" ""
	row_end 2 2 1
	local after_shutdown prefetch_record
	after_shutdown=$(disk_ls "$SD/disk.img" /var/lib/day1kmod/dummy)
	prefetch_record=$(read_file "$SD/disk.img" /var/lib/day1kmod/dummy/prefetch)

	boot_until_poweroff "$SD/disk.img" 4
	row_begin "registry unreachable at shutdown (${SHUTDOWN_DELAY}s bound)"
	check "the MCD stopped the registry, staged kernel B and rebooted" jhas 2 "e2e: MCD update: staging the OS with kernel $KVER2"
	check "no ordering cycle" no_ordering_cycle 2
	check "the prefetch tries B's image, bounded by ${SHUTDOWN_DELAY}s" jhas 2 "day1kmod\\[dummy\\]: next boot: no current tree for kernel $KVER2 \\(the next deployment [0-9a-f]{12}\\.0\\): fetching image '$IMG/dummy:$KVER2', at most ${SHUTDOWN_DELAY}s \\(maxShutdownDelay\\)"
	check "it gives up, saying so" jhas 2 "day1kmod\\[dummy\\]: warning: next boot: gave up after [0-9]+s \\(maxShutdownDelay ${SHUTDOWN_DELAY}s\\): .*; nothing changed, the next boot's gate fetches it"
	check "the shutdown waited at most the bound (+5 s): prefetch stop" stop_within 2 "$PREFETCH_UNIT" $((SHUTDOWN_DELAY + 5))
	check "it retried (the registry refused): the stop took 15 s or more" stop_over 2 "$PREFETCH_UNIT" 15
	check "nothing half-written after the shutdown: no .tmp-*" lacks " $after_shutdown" " .tmp-"
	check "no tree for kernel B after the shutdown" lacks " $after_shutdown " " $KVER2 "
	check "A's tree still there" contains " $after_shutdown " " $KVER "
	check "boot 3 runs kernel B (its console)" console_has 3 "Linux version $KVER2 "
	check "boot 3: the load finds nothing on disk for kernel B" jhas 3 "day1kmod\\[dummy\\]: nothing on disk for kernel $KVER2"
	check "boot 3: the gate fetches (the registry is back)" pulled 3
	check "boot 3: the gate's one reboot" eq "${ENDINGS[2]}" reboot
	check "boot 3: it is the gate that rebooted" jhas 3 'day1kmod\[dummy\]: rebooting'
	check "on disk after the shutdown: the prefetch's record says gave-up, kernel B" eq "$(sed -n 's/^result=//p; s/^kernel=//p' <<<"$prefetch_record" | xargs)" "gave-up $KVER2"
	check "boot 4 powers off" eq "${ENDINGS[3]:-}" poweroff
	check "boot 4: OOT dummy loaded on kernel B with tag=day1" oot_loaded 4 dummy day1
	check "boot 4: load ends before network-pre.target" load_before_netpre 4 dummy
	check "boot 4: the kubelet sees the OOT dummy" kubelet_saw 4 "oot version=$OOT_VERSION"
	check "no failed unit" eq "$(res 4 failed)" ""
	row_end 2 4 2
}

scenario_load_hangs() {
	make_disk load-hangs "[$(module_json dummy "$IMG/dummy-block" dummy ', "moduleParameters": ["tag=day1"]')]"
	row_begin "OOT init blocks past the load bound"
	# The blocking boot lasts as long as the load script's bound.
	BOOT_TIMEOUT=$((E2E_BOOT_TIMEOUT + 300)) boot_until_poweroff "$SD/disk.img" 3
	check "one reboot (the fetch), then no reboot loop" eq "${ENDINGS[*]}" "reboot poweroff"
	check "the OOT init blocked" jhas 2 'init blocks for [0-9]+ s on purpose'
	check "NetworkManager started" jhas 2 'Started NetworkManager.service'
	check "network-online.target reached" jhas 2 'Reached target network-online.target'
	check "load unit failed" unit_is 2 day1kmod-load-dummy.service failed exit-code
	check "load says why: modprobe did not finish in time" jhas 2 'day1kmod\[dummy\]: ERROR: .*modprobe.* did not finish within [0-9]+s'
	check "the OOT init was interrupted, so the in-tree driver could come back" jhas 2 'blocking init interrupted by a signal'
	check "in-tree dummy loaded again" intree_loaded 2 dummy
	check "status: loaded=in-tree" status_is 2 dummy loaded in-tree
	check "status: load_result=rolled-back (the in-tree driver is back)" status_is 2 dummy load_result rolled-back
	check "only the load unit failed" eq "$(res 2 failed)" day1kmod-load-dummy.service
	row_end 2 2
}

scenario_oot_fails() {
	make_disk oot-fails "[$(module_json dummy "$IMG/dummy-fail" dummy ', "moduleParameters": ["tag=day1"]')]"
	row_begin "OOT init fails"
	boot_until_poweroff "$SD/disk.img" 3
	check "one reboot, then no reboot loop" eq "${ENDINGS[*]}" "reboot poweroff"
	check "in-tree dummy loaded again at the end" intree_loaded 2 dummy
	check "load unit failed" unit_is 2 day1kmod-load-dummy.service failed exit-code
	check "load ends before network-pre.target" load_before_netpre 2 dummy
	check "the OOT init failure is in the journal" jhas 2 'init fails on purpose'
	check "load says why it failed" jhas 2 'day1kmod-dummy-load.*(fail|FAIL|error|ERROR)'
	check "only the load unit failed" eq "$(res 2 failed)" day1kmod-load-dummy.service
	check "status: loaded=in-tree" status_is 2 dummy loaded in-tree
	check "status: load_result=rolled-back (the in-tree driver is back)" status_is 2 dummy load_result rolled-back
	row_end 1 2
}

scenario_two_modules() {
	make_disk two-modules "[$(module_json dummy "$IMG/dummy" dummy ', "moduleParameters": ["tag=day1"]'), $(module_json twin "$IMG/twin" e2e_twin ', "moduleParameters": ["tag=twin"]')]"
	row_begin "two Day1KernelModules in one pool"
	boot_until_poweroff "$SD/disk.img" 4
	# The first pull to finish waits for the other: one reboot serves both.
	check "exactly one reboot for both modules" eq "${#ENDINGS[@]}" 2
	check "dummy extracted before the reboot" jhas 1 'day1kmod\[dummy\]: modules for kernel .* are in '
	check "twin extracted before the reboot" jhas 1 'day1kmod\[twin\]: modules for kernel .* are in '
	check "ends in a power off" eq "${ENDINGS[-1]}" poweroff
	check "OOT dummy loaded with tag=day1" oot_loaded "$BOOTS" dummy day1
	check "e2e_twin loaded with tag=twin (image without modules.dep)" oot_loaded "$BOOTS" e2e_twin twin
	check "both load units active" unit_is "$BOOTS" day1kmod-load-twin.service active success
	check "no failed unit" eq "$(res "$BOOTS" failed)" ""
	check "status: both loaded=oot" eq "$(res "$BOOTS" status.dummy.loaded) $(res "$BOOTS" status.twin.loaded)" "oot oot"
	row_end 1 "$BOOTS"
}

scenario_wrong_kernel() {
	make_disk wrong-kernel "[$(module_json dummy "$IMG/wrong-kernel" dummy ', "moduleParameters": ["tag=day1"]')]"
	row_begin "image without the module for the running kernel"
	boot_until_poweroff "$SD/disk.img" 3
	check "no reboot loop (ends in a power off within 2 boots)" eq "${ENDINGS[-1]}" poweroff
	check "in-tree dummy still loaded" intree_loaded "$BOOTS" dummy
	check "a day1kmod unit failed" contains "$(res "$BOOTS" failed)" day1kmod-
	check "the failure names the running kernel" jhas "$BOOTS" "day1kmod\[dummy\]: ERROR: .*$KVER"
	check "status: loaded=in-tree, pull_result=unusable" eq "$(res "$BOOTS" status.dummy.loaded) $(res "$BOOTS" status.dummy.pull_result)" "in-tree unusable"
	check "nothing unloaded" not jhas "$BOOTS" 'unloading in-tree|modprobe -r|rmmod'
	row_end 1 "$BOOTS"
}

scenario_other_vermagic() {
	make_disk other-vermagic "[$(module_json dummy "$IMG/other-vermagic" dummy ', "moduleParameters": ["tag=day1"]')]"
	row_begin "module built for another kernel (vermagic)"
	boot_until_poweroff "$SD/disk.img" 3
	check "no reboot loop (ends in a power off within 2 boots)" eq "${ENDINGS[-1]}" poweroff
	check "in-tree dummy still loaded" intree_loaded "$BOOTS" dummy
	check "a day1kmod unit failed" contains "$(res "$BOOTS" failed)" day1kmod-
	check "the failure names the module's kernel" jhas "$BOOTS" "day1kmod\\[dummy\\]: ERROR: .*$OTHER_KVER"
	check "status: loaded=in-tree, pull_result=unusable" eq "$(res "$BOOTS" status.dummy.loaded) $(res "$BOOTS" status.dummy.pull_result)" "in-tree unusable"
	check "nothing unloaded" not jhas "$BOOTS" 'unloading in-tree|modprobe -r|rmmod'
	row_end 1 "$BOOTS"
}

# Firmware from the image, which the OOT module's init requests, and an OOT
# module that needs an in-tree module (crc_itu_t of crc-itu-t.ko) the image
# does not carry. FW_SIZE and FW_CRC: run.sh.
scenario_image_firmware() {
	make_disk image-firmware "[$(module_json fw "$IMG/fw" e2e_fw ', "moduleParameters": ["tag=fw"], "firmwarePath": "/firmware"')]"
	row_begin "firmware from the image, requested at init"
	boot_until_poweroff "$SD/disk.img" 3
	check "one reboot (the fetch), then a power off" eq "${ENDINGS[*]}" "reboot poweroff"
	check "the fetch extracts the tree" jhas 1 "day1kmod\\[fw\\]: modules for kernel $KVER are in "
	check "the load installs the image's firmware" jhas 2 "day1kmod\\[fw\\]: installing the firmware of 'fw'"
	check "firmware_class.path is day1kmod's firmware directory" eq "$(res 2 firmware_class.path)" /var/lib/day1kmod/.firmware
	check "e2e_fw loaded with tag=fw" oot_loaded 2 e2e_fw fw
	check "its init read the firmware: fw_size in sysfs" eq "$(res 2 param.e2e_fw.fw_size)" "$FW_SIZE"
	check "the kernel logged the firmware it read" jhas 2 "e2e_fw: day1kmod e2e out-of-tree module loaded, firmware day1kmod-e2e/e2e-fw.bin: $FW_SIZE bytes"
	check "load ends before network-pre.target" load_before_netpre 2 fw
	check "status: loaded=oot, load_result=loaded" eq "$(res 2 status.fw.loaded) $(res 2 status.fw.load_result)" "oot loaded"
	check "no failed unit" eq "$(res 2 failed)" ""
	check "on disk: the firmware in day1kmod's directory" eq "$(disk_file_size "$SD/disk.img" /var/lib/day1kmod/.firmware/day1kmod-e2e/e2e-fw.bin)" "$FW_SIZE"
	check "on disk: nothing written to the host's /lib/firmware" eq "$(disk_file_size "$SD/disk.img" /lib/firmware/day1kmod-e2e/e2e-fw.bin)" ""
	row_end 1 2

	row_begin "OOT module needing an in-tree module"
	check "the image carries only the OOT module" eq "$(cd "$WORK/trees/fw" && find . -name '*.ko*' -printf '%p\n')" "./opt/lib/modules/$KVER/extra/e2e_fw.ko"
	check "the fetch's symbol check passes (no missing symbol)" not jhas 1 'day1kmod\[fw\]: .*(ERROR|warning)'
	check "/proc/modules: e2e_fw live" eq "$(res 2 proc-modules.e2e_fw)" "0 - Live"
	check "/proc/modules: crc_itu_t live, used by e2e_fw" eq "$(res 2 proc-modules.crc_itu_t)" "1 e2e_fw, Live"
	check "the in-tree crc_itu_t() computed the firmware's CRC" eq "$(res 2 param.e2e_fw.fw_crc)" "$FW_CRC"
	row_end 1 2
}

# A firmware directory that is a link to the host's root in the image: the
# fetch refuses the image, the node keeps the in-tree driver and its network.
scenario_firmware_link() {
	make_disk firmware-link "[$(module_json dummy "$IMG/firmware-link" dummy ', "moduleParameters": ["tag=day1"], "firmwarePath": "/firmware"')]"
	row_begin "firmware directory a symlink to / in the image"
	boot_until_poweroff "$SD/disk.img" 2
	check "1 boot, no reboot" eq "${ENDINGS[*]}" poweroff
	check "the fetch pulls the image" pulled 1
	check "the fetch refuses it, naming the link" jhas 1 "day1kmod\\[dummy\\]: ERROR: image '.*firmware-link.*': firmware directory '/firmware': /firmware -> / is a symlink"
	check "the fetch exits 2 (image unusable)" contains "$(res 1 unit.day1kmod-fetch-dummy.service)" "status=2"
	check "status: pull_result=unusable, loaded=in-tree" eq "$(res 1 status.dummy.pull_result) $(res 1 status.dummy.loaded)" "unusable in-tree"
	check "the kubelet starts after the gate finished" after 1 "$GATE_FINISHED" "$KUBELET_STARTS"
	check "at once: within 60 s of the gate's start (maxKubeletDelay 5m)" within 1 'Starting day1kmod-pull-dummy.service' "$KUBELET_STARTS" 60
	check "the kubelet sees the in-tree dummy" kubelet_saw 1 in-tree
	check "NetworkManager started" jhas 1 'Started NetworkManager.service'
	check "network-online.target reached" jhas 1 'Reached target network-online.target'
	check "in-tree dummy still loaded" intree_loaded 1 dummy
	check "nothing extracted: no tree" lacks "$(res 1 var-lib-day1kmod)" "dummy/$KVER"
	check "nothing extracted: no firmware directory" lacks "$(res 1 var-lib-day1kmod)" ".firmware"
	check "firmware_class.path untouched" eq "$(res 1 firmware_class.path)" ""
	row_end 1 1
}

# verify: `day1kmod verify` reads the suite's own image archives, without a
# boot, and says what the nodes will find: the dummy image serves the guest
# kernel it is tagged for; another kernel has no tag in that archive; the
# image whose module names another kernel fails the vermagic check.
scenario_verify() {
	SD="$WORK/verify"
	mkdir -p "$SD"
	BOOTS=0
	ENDINGS=()
	BOOT_SECS=()
	row_begin "day1kmod verify on the suite's images (no boot)"
	local out code
	verify_image() { # IMAGE-NAME ARCHIVE KERNEL: prints the exit status, the table to $SD/verify.log
		local code=0
		"$BIN/day1kmod" verify --image "$IMG/$1" --module dummy --kernel "$3" --from "$WORK/images/$2.tar" >>"$SD/verify.log" 2>&1 || code=$?
		echo "$code"
	}
	check "dummy image passes for kernel $KVER" eq "$(verify_image dummy dummy "$KVER")" 0
	check "dummy image (kernel B archive) passes for kernel $KVER2" eq "$(verify_image dummy dummy-kernel2 "$KVER2")" 0
	check "dummy archive fails for another kernel ($OTHER_KVER)" eq "$(verify_image dummy dummy "$OTHER_KVER")" 1
	check "other-vermagic image fails for kernel $KVER" eq "$(verify_image other-vermagic other-vermagic "$KVER")" 1
	out=$("$BIN/day1kmod" verify --image "$IMG/other-vermagic" --module dummy --kernel "$KVER" --from "$WORK/images/other-vermagic.tar" -o json 2>/dev/null || true)
	check "the JSON report says not ok" contains "$out" '"ok": false'
	row_end 1 0
}
