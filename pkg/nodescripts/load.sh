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
# The module tree comes from the fetch unit, which extracts it from the image
# into the state directory; the gate in front of the kubelet reboots once.
# Until then (first boot, or the first boot of a new kernel) this script
# finds nothing and leaves the in-tree driver alone, so the node always gets
# its network.
#
# Every step that can block is time-limited (run_limited), so that the
# rollback to the in-tree driver always runs before systemd stops the unit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${0%load.sh}lib.sh"

# Time limits in seconds. The unit's TimeoutStartSec is 300 s
# (nodescripts.LoadTimeout; a test holds these numbers to it): the steps up to
# the out-of-tree load share LOAD_BUDGET, the rollback gets ROLLBACK_BUDGET of
# its own, and the rest covers each phase's last stop (2 x KILL_GRACE) and the
# status file (STATUS_LOCK_WAIT per write, two writes).
LOAD_BUDGET=200
ROLLBACK_BUDGET=70
# Each step's own limit, cut to what is left of its phase's budget (and
# LIMIT_MODINFO of lib.sh for each modinfo).
LIMIT_VERIFY=60   # checking the tree against its manifest (reads every file)
LIMIT_FIRMWARE=60 # copying the firmware files
LIMIT_LABEL=30    # chcon of the tree
LIMIT_SETTLE=60   # udevadm settle: udev's coldplug queue
LIMIT_UNLOAD=30   # modprobe -r of one in-tree module
LIMIT_LOAD=60     # modprobe of the out-of-tree module: its init probes devices
LIMIT_RELOAD=30   # modprobe of one in-tree module in the rollback

# The end of the current phase (forward steps, then the rollback).
PHASE_END=0

# within LIMIT: LIMIT, cut to the seconds left before PHASE_END.
within() {
	local left=$((PHASE_END - $(now)))
	if ((left < $1)); then
		printf '%s\n' "$((left > 0 ? left : 0))"
	else
		printf '%s\n' "$1"
	fi
}

# limited LIMIT WHAT COMMAND...: run_limited within the phase; on a timeout,
# log what did not finish and return 124.
limited() {
	local limit status=0 what="$2"
	limit="$(within "$1")"
	shift 2
	if ((limit <= 0)); then
		error "$what not tried: the time budget of this phase is spent (earlier steps hung)"
		return 124
	fi
	run_limited "$limit" "$@" || status=$?
	if ((status == 124)); then
		if ((LIMIT_STUCK)); then
			error "$what did not finish within ${limit}s and could not be stopped: it is stuck in the kernel (uninterruptible)"
		else
			error "$what did not finish within ${limit}s: stopped"
		fi
	fi
	return "$status"
}

# What the status file reports at exit (the EXIT trap writes it).
LOAD_RESULT=""
LOAD_REASON=""

write_status() {
	local code=$?
	if [[ -z "$LOAD_RESULT" ]]; then
		LOAD_RESULT=failed
		LOAD_REASON="${DIE_REASON:-exit status $code}"
	fi
	if [[ -n "$CFG_NAME" && -n "$KVER" ]]; then
		status_set load_result="$LOAD_RESULT" load_reason="$LOAD_REASON"
	fi
}

# The out-of-tree module is stuck in its init: the kernel holds its name.
OOT_STUCK=""

# In-tree modules this run unloaded, in order, so a failure can put them back.
REMOVED=()

# reload_removed: load the in-tree modules we unloaded again, last first, so
# the node keeps the network it had. Failures are logged: nothing more can be
# done about them here.
# RELOADED lists the ones that are back; NOT_RELOADED the others.
RELOADED=()
# begin_rollback: the rollback phase starts, once, with its own budget.
ROLLING_BACK=0
begin_rollback() {
	if ((!ROLLING_BACK)); then
		ROLLING_BACK=1
		PHASE_END=$(($(now) + ROLLBACK_BUDGET))
	fi
}
NOT_RELOADED=()
reload_removed() {
	local i m state
	begin_rollback
	for ((i = ${#REMOVED[@]} - 1; i >= 0; i--)); do
		m="${REMOVED[i]}"
		state="$(module_state "$m")"
		if [[ "$state" == Loading || "$state" == Unloading ]]; then
			# modprobe would wait for the kernel, which holds the name.
			error "cannot reload in-tree module '$m': a module of that name is stuck in the kernel (state $state in /proc/modules); the kernel gives the name back only when it returns, so the device stays without this driver until a reboot"
			NOT_RELOADED+=("$m")
			continue
		fi
		log "reloading in-tree module '$m'"
		if limited "$LIMIT_RELOAD" "reloading in-tree module '$m'" modprobe "$m"; then
			RELOADED=("$m" "${RELOADED[@]}") # in the order they were removed
		else
			error "could not reload in-tree module '$m'"
			NOT_RELOADED+=("$m")
		fi
	done
}

# install_firmware: install the tree's firmware files where the kernel's
# firmware loader looks: FIRMWARE_DIR, in day1kmod's own state, which it
# sets as the kernel's custom firmware search path (/lib/firmware is
# read-only on RHCOS). A path already set to another directory belongs to
# someone else: day1kmod never writes there, and keeps the in-tree driver
# rather than load a module whose firmware the kernel would not find.
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
		log "setting the kernel's custom firmware path to $FIRMWARE_DIR"
		printf '%s' "$FIRMWARE_DIR" >"$param" || return 1
	elif [[ "${fwdir%/}" != "$FIRMWARE_DIR" ]]; then
		error "the kernel's custom firmware path (firmware_class.path) is set to '$fwdir' by someone else: day1kmod installs firmware only in its own $FIRMWARE_DIR, and the kernel would not look there"
		return 1
	fi
	log "installing the firmware of '$CFG_NAME' from ${TREE}/firmware into $FIRMWARE_DIR"
	limited "$LIMIT_FIRMWARE" "installing the firmware" copy_firmware
}

# firmware_list NAME: the firmware files (paths below FIRMWARE_DIR) the load
# of Day1KernelModule NAME installed, one a line: who owns what.
firmware_list() { printf '%s/%s/firmware.list\n' "$DAY1KMOD_STATE_DIR" "$1"; }

# same_content A B: files A and B hold the same bytes.
same_content() {
	local a b
	a="$(sha256sum <"$1")" && b="$(sha256sum <"$2")" && [[ "$a" == "$b" ]]
}

# copy_firmware: copy every firmware file of the tree (a symlink inside the
# tree as the file it names: no link is installed) into FIRMWARE_DIR. A file
# another Day1KernelModule installed with other content is a collision:
# refused, naming both. Files are written to a temporary name and renamed
# into place, and no directory on the way may be a symlink, so nothing is
# written through a link. Files this module installed before and no longer
# has are removed, unless another module lists them too.
copy_firmware() {
	local dst="${DAY1KMOD_ROOT}${FIRMWARE_DIR}" rel src list other owner dir p part
	local -a rels=() collisions=() parts=()
	local -A mine=()
	list="$(firmware_list "$CFG_NAME")"
	for p in "$DAY1KMOD_STATE_DIR" "$dst"; do
		if [[ -L "$p" ]]; then
			error "$p is a symlink: not writing firmware through it"
			return 1
		fi
	done
	mkdir -p -- "$dst" || return 1
	while IFS= read -r -d '' rel; do
		src="${TREE}/firmware/${rel}"
		[[ -f "$src" ]] || continue
		rels+=("$rel")
		mine["$rel"]=1
		for other in "$DAY1KMOD_STATE_DIR"/*/firmware.list; do
			[[ -f "$other" && "$other" != "$list" ]] || continue
			owner="${other%/firmware.list}"
			owner="${owner##*/}"
			if grep -Fxq -- "$rel" "$other" && [[ -e "${dst}/${rel}" ]] && ! same_content "$src" "${dst}/${rel}"; then
				collisions+=("${rel} (installed by '${owner}', another content in '${CFG_NAME}')")
			fi
		done
	done < <(cd "${TREE}/firmware" && find . \( -type f -o -type l \) -printf '%P\0' | sort -z)
	if ((${#collisions[@]} > 0)); then
		error "firmware files of '$CFG_NAME' collide with those of other Day1KernelModules: $(list_some "${collisions[@]}")"
		return 1
	fi
	for rel in "${rels[@]}"; do
		dir="$dst"
		parts=()
		if [[ "$rel" == */* ]]; then
			IFS=/ read -ra parts <<<"${rel%/*}"
		fi
		for part in "${parts[@]}"; do
			dir+="/$part"
			if [[ -L "$dir" ]]; then
				error "$dir is a symlink: not writing firmware through it"
				return 1
			fi
			if [[ ! -d "$dir" ]]; then
				mkdir -- "$dir" || return 1
			fi
		done
		cp -L --preserve=mode,timestamps -- "${TREE}/firmware/${rel}" "${dst}/${rel}.day1kmod-new" || return 1
		mv -fT -- "${dst}/${rel}.day1kmod-new" "${dst}/${rel}" || return 1
	done
	local -a before=()
	if [[ -f "$list" ]]; then
		mapfile -t before <"$list"
	fi
	for rel in "${before[@]}"; do
		[[ -n "$rel" && -z "${mine[$rel]:-}" ]] || continue
		owner=""
		for other in "$DAY1KMOD_STATE_DIR"/*/firmware.list; do
			if [[ "$other" != "$list" ]] && grep -Fxq -- "$rel" "$other"; then
				owner=1
			fi
		done
		if [[ -z "$owner" && "$rel" != */../* && "$rel" != ../* ]]; then
			log "removing firmware file $rel that '$CFG_NAME' no longer has"
			rm -f -- "${dst}/${rel}"
		fi
	done
	if ((${#rels[@]} > 0)); then
		printf '%s\n' "${rels[@]}" >"${list}.new"
	else
		: >"${list}.new"
	fi
	mv -f -- "${list}.new" "$list"
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
	limited "$LIMIT_LABEL" "labelling ${TREE}/lib/modules" chcon -R -t modules_object_t "${TREE}/lib/modules" ||
		warn "could not label ${TREE}/lib/modules modules_object_t: SELinux may refuse to load '$CFG_MODULE'"
}

# unload_in_tree: unload the configured in-tree modules that are loaded,
# remembering them in REMOVED. On a failure the ones already removed are
# reloaded and it returns 1.
unload_in_tree() {
	local m users settle
	# udev loads drivers for the devices it finds (coldplug) after this unit
	# may start: wait for that queue, or an in-tree driver could load after
	# we looked and bind the device before the out-of-tree one. udevadm has
	# its own timeout; the shell's limit is a few seconds above it.
	settle="$(within "$LIMIT_SETTLE")"
	if [[ ${#CFG_IN_TREE[@]} -gt 0 ]] && ! limited $((settle + 5)) "udevadm settle" udevadm settle --timeout="$settle"; then
		warn "udev did not settle within ${settle}s: an in-tree module may still load after this check"
	fi
	for m in "${CFG_IN_TREE[@]}"; do
		if ! module_loaded "$m"; then
			log "in-tree module '$m' is not loaded: nothing to unload"
			continue
		fi
		log "unloading in-tree module '$m'"
		if ! limited "$LIMIT_UNLOAD" "unloading in-tree module '$m'" modprobe -r "$m"; then
			users="$(module_users "$m")"
			error "could not unload in-tree module '$m' (used by: ${users:--})"
			# A module stuck in its exit holds its name like one stuck in
			# its init: the rollback cannot reload it either.
			if [[ "$(module_state "$m")" == Unloading ]]; then
				REMOVED+=("$m")
			fi
			return 1
		fi
		REMOVED+=("$m")
	done
}

# fail_load MESSAGE: put the in-tree modules back and fail the unit loudly.
fail_load() {
	local msg="$1"
	reload_removed
	if [[ ${#REMOVED[@]} -eq 0 ]]; then
		msg+="; no in-tree module had been unloaded"
	else
		msg+="; reloaded in-tree modules: ${RELOADED[*]:-none}"
		if [[ ${#NOT_RELOADED[@]} -gt 0 ]]; then
			msg+="; NOT reloaded: ${NOT_RELOADED[*]}"
		fi
	fi
	if [[ -n "$OOT_STUCK" ]]; then
		msg+="; $OOT_STUCK"
	fi
	LOAD_RESULT=rolled-back
	if [[ ${#NOT_RELOADED[@]} -gt 0 || -n "$OOT_STUCK" ]]; then
		LOAD_RESULT=failed
	fi
	LOAD_REASON="$msg"
	die "$msg"
}

# refuse_damaged WHY: the tree is damaged: keep the in-tree driver, tell
# the gate (which fetches it again on this boot) by the marker, fail loudly.
refuse_damaged() {
	if ! { mkdir -p "$DAY1KMOD_RUN_DIR" && printf '%s\n' "$1" >"$(damaged_marker)"; }; then
		warn "could not write $(damaged_marker)"
	fi
	die "the tree at $TREE is damaged: $1; not loading '$CFG_MODULE', the in-tree driver is kept (nothing was unloaded); the gate ($(gate_unit "$CFG_NAME")) extracts the tree again"
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
			check_signature "$TREE" "$m" || return 1
			continue
		fi
		log "loading additional out-of-tree module '$m' from $TREE${words[1]:+ with parameters: ${words[*]:1}}"
		want="$(module_field "$TREE" "$m" srcversion)"
		if limited "$LIMIT_LOAD" "loading additional out-of-tree module '$m' (modprobe)" modprobe -d "$TREE" "${words[@]}"; then
			loaded+=("$m")
			have="$(loaded_attr "$m" srcversion)"
			[[ -z "$want" || -z "$have" || "$have" == "$want" ]] && continue
			error "another module named '$m' is loaded (srcversion $have, expected $want); list it in the in-tree modules to remove"
		else
			error "failed to load additional out-of-tree module '$m' from $TREE"
		fi
		begin_rollback
		loaded=("$CFG_MODULE" "${loaded[@]}")
		for ((i = ${#loaded[@]} - 1; i >= 0; i--)); do
			log "unloading out-of-tree module '${loaded[i]}'"
			limited "$LIMIT_UNLOAD" "unloading out-of-tree module '${loaded[i]}'" modprobe -r -d "$TREE" "${loaded[i]}" ||
				error "could not unload out-of-tree module '${loaded[i]}'"
		done
		return 1
	done
}

main() {
	day1kmod_init "$@"
	PHASE_END=$(($(now) + LOAD_BUDGET))
	trap write_status EXIT

	case "$(tree_state)" in
	absent)
		LOAD_RESULT=not-on-disk
		LOAD_REASON="no tree for kernel $KVER at $TREE yet: the in-tree driver is kept on this boot"
		log "nothing on disk for kernel $KVER at $TREE: not loading '$CFG_MODULE' on this boot; the gate ($(gate_unit "$CFG_NAME")) fetches image '$(resolve_image)' and reboots before the kubelet starts"
		exit 0
		;;
	stale)
		LOAD_RESULT=stale
		LOAD_REASON="the tree at $TREE is from image '$(record_get "$TREE" image)', the config names '$CFG_IMAGE': the in-tree driver is kept on this boot"
		log "nothing on disk for this config: the tree at $TREE was extracted from image '$(record_get "$TREE" image)' (module '$(record_get "$TREE" module)'), the config now names image '$CFG_IMAGE' (module '$CFG_MODULE'); not loading on this boot; the gate ($(gate_unit "$CFG_NAME")) fetches it and reboots before the kubelet starts"
		exit 0
		;;
	damaged)
		refuse_damaged "$(tree_why_damaged)"
		;;
	esac

	# Before anything is unloaded: the tree is what the fetch extracted (a
	# file deleted, truncated or corrupted since is refused here, and the
	# gate fetches the tree again), the module is there and fits this kernel.
	local why status=0
	why="$(limited "$LIMIT_VERIFY" "checking $TREE against its manifest" tree_damage "$TREE" full)" || status=$?
	if ((status != 0)); then
		die "could not check $TREE against its manifest (status $status): not loading '$CFG_MODULE'; nothing was unloaded"
	fi
	if [[ -n "$why" ]]; then
		refuse_damaged "$why"
	fi
	check_vermagic "$TREE" || die "not loading '$CFG_MODULE' from $TREE; nothing was unloaded"
	check_signature "$TREE" || die "not loading '$CFG_MODULE' from $TREE: the kernel would refuse it; nothing was unloaded"
	load_additional check || die "not loading '$CFG_MODULE' and its additional modules from $TREE; nothing was unloaded"

	local want have
	want="$(module_field "$TREE" "$CFG_MODULE" srcversion)"
	TREE_SRCVERSION="$want"
	if module_loaded "$CFG_MODULE"; then
		have="$(loaded_attr "$CFG_MODULE" srcversion)"
		if [[ -n "$want" && "$have" == "$want" ]]; then
			LOAD_RESULT=already-loaded
			LOAD_REASON="out-of-tree module '$CFG_MODULE' from $TREE was loaded already"
			log "out-of-tree module '$CFG_MODULE' from $TREE is already loaded (srcversion $have): nothing to do"
			exit 0
		fi
	fi

	install_firmware || die "could not install the firmware of '$CFG_MODULE'; nothing was unloaded"
	label_modules
	unload_in_tree || fail_load "not loading out-of-tree module '$CFG_MODULE'"

	log "loading out-of-tree module '$CFG_MODULE' from $TREE${CFG_PARAMS[*]:+ with parameters: ${CFG_PARAMS[*]}}"
	limited "$LIMIT_LOAD" "loading out-of-tree module '$CFG_MODULE' (modprobe)" \
		modprobe -d "$TREE" "$CFG_MODULE" "${CFG_PARAMS[@]}" || status=$?
	if ((status == 124)); then
		if [[ "$(module_state "$CFG_MODULE")" == Loading ]]; then
			OOT_STUCK="out-of-tree module '$CFG_MODULE' is stuck in its init (state Loading in /proc/modules): the kernel cannot unload it, and cannot load an in-tree module of that name, until the init returns"
		fi
		fail_load "loading out-of-tree module '$CFG_MODULE' from $TREE did not finish in time"
	elif ((status != 0)); then
		fail_load "failed to load out-of-tree module '$CFG_MODULE' from $TREE"
	fi

	# modprobe succeeds without doing anything when a module of that name is
	# already loaded: make sure the one running now is ours.
	have="$(loaded_attr "$CFG_MODULE" srcversion)"
	if [[ -n "$want" && -n "$have" && "$have" != "$want" ]]; then
		fail_load "failed to load out-of-tree module '$CFG_MODULE': another module of that name is loaded (srcversion $have, expected $want); list it in the in-tree modules to remove"
	fi

	load_additional || fail_load "failed to load the additional modules of '$CFG_MODULE' (all of them and '$CFG_MODULE' unloaded)"

	LOAD_RESULT=loaded
	LOAD_REASON="out-of-tree module '$CFG_MODULE' loaded from $TREE"
	log "loaded out-of-tree module '$CFG_MODULE' version '$(module_field "$TREE" "$CFG_MODULE" version)' (srcversion ${have:-unknown}) for kernel $KVER from $TREE"
}

main "$@"
