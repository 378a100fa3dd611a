# shellcheck shell=bash
# The scenarios of the VM end-to-end test. Each builds a disk, boots it until
# the guest powers itself off (or a boot limit), then asserts. A scenario adds
# rows to the report with row_begin/row_end.

IMG=127.0.0.1:5000/e2e

# boot_until_poweroff DISK MAX: boots DISK again and again while the guest
# reboots itself, at most MAX boots in all for this scenario. Sets BOOTS and
# ENDINGS. A boot that times out, panics or crashes ends the loop.
boot_until_poweroff() {
	local disk=$1 max=$2 ending started
	while ((BOOTS < max)); do
		BOOTS=$((BOOTS + 1))
		started=$SECONDS
		ending=$(boot_vm "$disk" "$SD/boot-$BOOTS")
		ENDINGS+=("$ending")
		BOOT_SECS+=("$((SECONDS - started))")
		log "  boot $BOOTS: $ending after $((SECONDS - started)) s"
		[[ $ending == reboot ]] || break
	done
	[[ ${ENDINGS[-1]} == poweroff ]] && split_journal "$BOOTS"
	return 0
}

# make_disk NAME MODULES_JSON: a disk with the MachineConfig(s) of MODULES_JSON
# (none when "[]") applied by the real Ignition, plus the test's guest files.
make_disk() {
	local name=$1 modules=$2 stage
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
	cp --sparse=always "$WORK/base.img" "$SD/disk.img"
	write_tree "$stage" "$SD/disk.img"
}

# module_json N IMAGE MODULE EXTRA: one Day 1 kernel module, as mkignition reads it.
module_json() {
	printf '{"name": "%s", "machineConfigPool": "worker", "kernelModuleImage": "%s", "kernelModuleName": "%s"%s}' "$1" "$2" "$3" "${4:-}"
}

# timing K: from boot K's journal (monotonic seconds since kernel start),
# separated by "|": network-pre.target reached, NetworkManager starting, and the time
# the day1kmod load units took (start to end, summed).
timing() {
	local netpre nm load
	netpre=$(jts "$1" 'Reached target network-pre.target')
	nm=$(jts "$1" 'Starting NetworkManager.service')
	load=$(awk '
		match($0, /Starting day1kmod-load-[^ ]+\.service/) { u = substr($0, RSTART + 9, RLENGTH - 9); start[u] = t($0) }
		match($0, /(Finished|Failed to start) day1kmod-load-[^ ]+\.service/) {
			u = substr($0, RSTART, RLENGTH); sub(/^(Finished|Failed to start) /, "", u)
			if (u in start) { sum += t($0) - start[u]; n++ }
		}
		function t(line) { sub(/^\[ */, "", line); sub(/\].*/, "", line); return line + 0 }
		END { if (n) printf "%.2f s (%d unit%s)", sum, n, (n > 1 ? "s" : ""); else printf "-" }' "$SD/journal/boot-$1.log" 2>/dev/null)
	printf '%s|%s|%s\n' "${netpre:+$netpre s}" "${nm:+$nm s}" "$load"
}

# load_before_netpre K N: boot K's load unit for N ended before network-pre.target.
load_before_netpre() {
	local ended netpre
	ended=$(jts "$1" "(Finished|Failed to start) day1kmod-load-$2.service")
	netpre=$(jts "$1" 'Reached target network-pre.target')
	lt "$ended" "$netpre"
}

oot_loaded() { # N MODULE TAG: boot N reports the OOT module loaded with TAG
	eq "$(res "$1" "module.$2")" "loaded version=day1kmod-e2e-oot tag=$3"
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

# --- scenarios ----------------------------------------------------------------

scenario_baseline() {
	make_disk baseline "[]"
	row_begin "no MachineConfig (baseline)"
	boot_until_poweroff "$SD/disk.img" 2
	check "1 boot, powered off by the probe" eq "${ENDINGS[*]}" poweroff
	check "in-tree dummy loaded" intree_loaded 1 dummy
	check "no failed unit" eq "$(res 1 failed)" ""
	check "NetworkManager started" jhas 1 'Started NetworkManager.service'
	row_end 1 1
}

scenario_replace() {
	make_disk replace "[$(module_json dummy "$IMG/dummy" dummy ', "moduleParameters": ["tag=day1"]')]"
	row_begin "first boot, image not on node"
	boot_until_poweroff "$SD/disk.img" 3
	check "boot 1 ends in a reboot" eq "${ENDINGS[0]}" reboot
	check "load logs 'nothing on disk'" jhas 1 'day1kmod.*nothing on disk'
	check "load unit succeeds" jhas 1 'Finished day1kmod-load-dummy.service'
	check "network comes up (network-online.target)" jhas 1 'Reached target network-online.target'
	check "pull pulls the image" pulled 1
	check "pull finishes" jhas 1 'Finished day1kmod-pull-dummy.service|day1kmod-pull-dummy.service: Deactivated successfully'
	row_end 1 1

	row_begin "second boot"
	check "boot 2 powers off (pull did not reboot: exactly one reboot)" eq "${ENDINGS[*]}" "reboot poweroff"
	check "load ends before network-pre.target (journal order)" load_before_netpre 2 dummy
	check "OOT dummy loaded with tag=day1 (in-tree one unloaded)" oot_loaded 2 dummy day1
	check "load unit active" unit_is 2 day1kmod-load-dummy.service active success
	check "no failed unit" eq "$(res 2 failed)" ""
	check "system running" eq "$(res 2 state)" running

	row_end 2 2

	row_begin "third boot"
	boot_until_poweroff "$SD/disk.img" 4
	check "boot 3 powers off, no reboot" eq "${ENDINGS[*]}" "reboot poweroff poweroff"
	check "load ends before network-pre.target" load_before_netpre 3 dummy
	check "OOT dummy loaded with tag=day1" oot_loaded 3 dummy day1
	check "no pull (registry untouched)" not pulled 3
	check "no failed unit" eq "$(res 3 failed)" ""
	row_end 3 3
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
	row_end 1 2
}

scenario_two_modules() {
	make_disk two-modules "[$(module_json dummy "$IMG/dummy" dummy ', "moduleParameters": ["tag=day1"]'), $(module_json twin "$IMG/twin" e2e_twin ', "moduleParameters": ["tag=twin"]')]"
	row_begin "two Day1KernelModules in one pool"
	boot_until_poweroff "$SD/disk.img" 4
	# The first pull to finish waits for the other: one reboot serves both.
	check "exactly one reboot for both modules" eq "${#ENDINGS[@]}" 2
	check "dummy extracted before the reboot" jhas 1 'day1kmod\[dummy\]: modules for kernel'
	check "twin extracted before the reboot" jhas 1 'day1kmod\[twin\]: modules for kernel'
	check "ends in a power off" eq "${ENDINGS[-1]}" poweroff
	check "OOT dummy loaded with tag=day1" oot_loaded "$BOOTS" dummy day1
	check "e2e_twin loaded with tag=twin (image without modules.dep)" oot_loaded "$BOOTS" e2e_twin twin
	check "both load units active" unit_is "$BOOTS" day1kmod-load-twin.service active success
	check "no failed unit" eq "$(res "$BOOTS" failed)" ""
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
	check "nothing unloaded" not jhas "$BOOTS" 'unloading in-tree|modprobe -r|rmmod'
	row_end 1 "$BOOTS"
}
