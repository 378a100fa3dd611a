#!/bin/bash
# day1kmod load: load the out-of-tree kernel module before the network.
#
# Usage: load.sh CONFIG-FILE
#
# Run by a systemd unit with DefaultDependencies=no, ordered before
# network-pre.target, so NetworkManager configures the interfaces with the
# out-of-tree driver. Only host tools are used here (modprobe, modinfo): no
# container runtime runs on the pre-network path.
#
# The module tree comes from the pull unit, which extracts it from the image
# into the state directory and reboots once. Until then (first boot, or the
# first boot of a new kernel) this script finds nothing and leaves the
# in-tree driver alone, so the node always gets its network.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${0%load.sh}lib.sh"

# In-tree modules this run unloaded, in order, so a failure can put them back.
REMOVED=()

# reload_removed: load the in-tree modules we unloaded again, last first, so
# the node keeps the network it had. Failures are logged: nothing more can be
# done about them here.
reload_removed() {
	local i m
	for ((i = ${#REMOVED[@]} - 1; i >= 0; i--)); do
		m="${REMOVED[i]}"
		log "reloading in-tree module '$m'"
		if ! modprobe "$m"; then
			error "could not reload in-tree module '$m'"
		fi
	done
}

# install_firmware: copy the tree's firmware files where the kernel's
# firmware loader looks. /lib/firmware is read-only on RHCOS, so the custom
# search path of firmware_class is used: the one already set (another
# module may have set it) or /var/lib/firmware.
install_firmware() {
	local param="${DAY1KMOD_ROOT}/sys/module/firmware_class/parameters/path"
	local fwdir=""
	[[ -d "${TREE}/firmware" ]] || return 0
	if [[ ! -e "$param" ]]; then
		warn "the kernel has no firmware_class path parameter: firmware files in ${TREE}/firmware are not installed"
		return 0
	fi
	IFS= read -r fwdir <"$param" || true
	if [[ -z "$fwdir" ]]; then
		fwdir=/var/lib/firmware
		log "setting the kernel's custom firmware path to $fwdir"
		printf '%s' "$fwdir" >"$param" || return 1
	fi
	log "copying firmware from ${TREE}/firmware to $fwdir"
	mkdir -p "${DAY1KMOD_ROOT}${fwdir}" || return 1
	cp -R --preserve=mode,timestamps "${TREE}/firmware/." "${DAY1KMOD_ROOT}${fwdir}/" || return 1
}

# label_modules: with SELinux (RHCOS) the kernel checks the label of a module
# file when it is loaded, and files extracted under /var/lib carry
# var_lib_t. Give the tree the label of /lib/modules on every boot, so a
# relabel of /var since the extraction does not undo it.
label_modules() {
	[[ -e "${DAY1KMOD_ROOT}/sys/fs/selinux/enforce" ]] || return 0
	if ! command -v chcon >/dev/null; then
		warn "SELinux is enabled but chcon is missing: ${TREE}/lib/modules keeps its label and loading may be refused"
		return 0
	fi
	chcon -R -t modules_object_t "${TREE}/lib/modules" ||
		warn "could not label ${TREE}/lib/modules modules_object_t: SELinux may refuse to load '$CFG_MODULE'"
}

# unload_in_tree: unload the configured in-tree modules that are loaded,
# remembering them in REMOVED. On a failure the ones already removed are
# reloaded and it returns 1.
unload_in_tree() {
	local m users
	# udev loads drivers for the devices it finds (coldplug) after this unit
	# may start: wait for that queue, or an in-tree driver could load after
	# we looked and bind the device before the out-of-tree one.
	if [[ ${#CFG_IN_TREE[@]} -gt 0 ]] && ! udevadm settle --timeout=60; then
		warn "udev did not settle within 60 s: an in-tree module may still load after this check"
	fi
	for m in "${CFG_IN_TREE[@]}"; do
		if ! module_loaded "$m"; then
			log "in-tree module '$m' is not loaded: nothing to unload"
			continue
		fi
		log "unloading in-tree module '$m'"
		if ! modprobe -r "$m"; then
			users="$(module_users "$m")"
			error "could not unload in-tree module '$m' (used by: ${users:--})"
			reload_removed
			return 1
		fi
		REMOVED+=("$m")
	done
}

# fail_load MESSAGE: put the in-tree modules back and fail the unit loudly.
fail_load() {
	reload_removed
	if [[ ${#REMOVED[@]} -gt 0 ]]; then
		die "$1; reloaded in-tree modules: ${REMOVED[*]}"
	fi
	die "$1; no in-tree module had been unloaded"
}

# load_additional: after the main module, load the additional modules from
# TREE in order, each with its parameters, and check each one running is
# ours. On a failure the ones loaded and the main module are unloaded, last
# first, and it returns 1 (the caller puts the in-tree modules back). With
# "check" as argument it only checks that every one is in TREE and was
# built for the running kernel.
load_additional() {
	local entry words m want have loaded=() i
	for entry in "${CFG_ADDITIONAL[@]}"; do
		read -ra words <<<"$entry"
		m="${words[0]}"
		if [[ "${1:-}" == check ]]; then
			if [[ -z "$(find_module_file "${TREE}/lib/modules/${KVER}" "$m")" ]]; then
				error "additional module '$m' is not in ${TREE}/lib/modules/${KVER}"
				return 1
			fi
			have="$(module_field "$TREE" "$m" vermagic)"
			if [[ "${have%% *}" != "$KVER" ]]; then
				error "additional module '$m' was built for kernel '${have%% *}' but the running kernel is '$KVER'"
				return 1
			fi
			continue
		fi
		log "loading additional out-of-tree module '$m' from $TREE${words[1]:+ with parameters: ${words[*]:1}}"
		want="$(module_field "$TREE" "$m" srcversion)"
		if modprobe -d "$TREE" "${words[@]}"; then
			loaded+=("$m")
			have="$(loaded_attr "$m" srcversion)"
			[[ -z "$want" || -z "$have" || "$have" == "$want" ]] && continue
			error "another module named '$m' is loaded (srcversion $have, expected $want); list it in the in-tree modules to remove"
		else
			error "failed to load additional out-of-tree module '$m' from $TREE"
		fi
		loaded=("$CFG_MODULE" "${loaded[@]}")
		for ((i = ${#loaded[@]} - 1; i >= 0; i--)); do
			log "unloading out-of-tree module '${loaded[i]}'"
			modprobe -r -d "$TREE" "${loaded[i]}" || error "could not unload out-of-tree module '${loaded[i]}'"
		done
		return 1
	done
}

main() {
	day1kmod_init "$@"

	case "$(tree_state)" in
	absent)
		log "nothing on disk for kernel $KVER at $TREE: not loading '$CFG_MODULE' on this boot; the pull unit will fetch image '$(resolve_image)', extract it and reboot"
		exit 0
		;;
	stale)
		log "nothing on disk for this config: the tree at $TREE was extracted from image '$(record_get "$TREE" image)' (module '$(record_get "$TREE" module)'), the config now names image '$CFG_IMAGE' (module '$CFG_MODULE'); not loading on this boot; the pull unit will fetch it and reboot"
		exit 0
		;;
	esac

	# Before anything is unloaded: the module is there and fits this kernel.
	check_vermagic "$TREE" || die "not loading '$CFG_MODULE' from $TREE; nothing was unloaded"
	load_additional check || die "not loading '$CFG_MODULE' and its additional modules from $TREE; nothing was unloaded"

	local want have
	want="$(module_field "$TREE" "$CFG_MODULE" srcversion)"
	if module_loaded "$CFG_MODULE"; then
		have="$(loaded_attr "$CFG_MODULE" srcversion)"
		if [[ -n "$want" && "$have" == "$want" ]]; then
			log "out-of-tree module '$CFG_MODULE' from $TREE is already loaded (srcversion $have): nothing to do"
			exit 0
		fi
	fi

	install_firmware || die "could not install the firmware of '$CFG_MODULE'; nothing was unloaded"
	label_modules
	unload_in_tree || die "not loading out-of-tree module '$CFG_MODULE'"

	log "loading out-of-tree module '$CFG_MODULE' from $TREE${CFG_PARAMS[*]:+ with parameters: ${CFG_PARAMS[*]}}"
	if ! modprobe -d "$TREE" "$CFG_MODULE" "${CFG_PARAMS[@]}"; then
		fail_load "failed to load out-of-tree module '$CFG_MODULE' from $TREE"
	fi

	# modprobe succeeds without doing anything when a module of that name is
	# already loaded: make sure the one running now is ours.
	have="$(loaded_attr "$CFG_MODULE" srcversion)"
	if [[ -n "$want" && -n "$have" && "$have" != "$want" ]]; then
		fail_load "failed to load out-of-tree module '$CFG_MODULE': another module of that name is loaded (srcversion $have, expected $want); list it in the in-tree modules to remove"
	fi

	load_additional || fail_load "failed to load the additional modules of '$CFG_MODULE' (all of them and '$CFG_MODULE' unloaded)"

	log "loaded out-of-tree module '$CFG_MODULE' version '$(module_field "$TREE" "$CFG_MODULE" version)' (srcversion ${have:-unknown}) for kernel $KVER from $TREE"
}

main "$@"
