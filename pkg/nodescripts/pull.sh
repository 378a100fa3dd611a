#!/bin/bash
# day1kmod pull: fetch the kernel module image and extract it for the next boot.
#
# Usage: pull.sh CONFIG-FILE
#
# Run by a systemd unit after network-online.target. When the tree for the
# running kernel is not on disk yet, it pulls the image with podman, copies
# /opt/lib/modules/$(uname -r) (and the firmware directory) out of it into
# the state directory, removes the image and reboots once, so that the load
# unit finds the module before the network on the next boot.
#
# The tree is built in a temporary directory next to its final place and
# renamed into place: an interrupted run never leaves a half tree where the
# load unit looks. A stamp per kernel and image digest guarantees that the
# node reboots at most once for them.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${0%pull.sh}lib.sh"

# Pull retries: 8 attempts, waiting 5 s, then doubling, at most 60 s.
PULL_ATTEMPTS=8
PULL_FIRST_DELAY=5
PULL_MAX_DELAY=60

# Exit status when the image was pulled but does not hold what the config
# asks for: retrying cannot help until the image changes, so the unit does not
# restart on it (RestartPreventExitStatus). Other failures exit 1 and the
# unit retries later (the network or the registry may come back).
EXIT_IMAGE_UNUSABLE=2

# How long a finished pull waits for other modules' pull units before it
# reboots, and how often it looks.
REBOOT_WAIT_LIMIT=600
REBOOT_WAIT_STEP=5

# State for the exit trap, which cleans up whatever a failure leaves behind.
IMAGE_REF=""  # set once the image is pulled: removed on exit
MOUNTED=""    # set while the image is mounted
TMP_TREE=""   # the tree under construction: removed on exit unless committed

cleanup() {
	if [[ -n "$MOUNTED" ]]; then
		podman image unmount "$IMAGE_REF" >/dev/null || warn "could not unmount image '$IMAGE_REF'"
	fi
	if [[ -n "$TMP_TREE" ]]; then
		rm -rf -- "$TMP_TREE"
	fi
	if [[ -n "$IMAGE_REF" ]]; then
		remove_image
	fi
}

# remove_image: the image is not needed once extracted; a failure to remove
# it only costs disk space.
remove_image() {
	local ref="$IMAGE_REF"
	IMAGE_REF=""
	if ! podman rmi "$ref" >/dev/null; then
		warn "could not remove image '$ref' from the container storage"
	fi
}

# remove_stale_temp_dirs: a run killed mid-extract (power loss, timeout)
# leaves its temporary tree behind; it was never renamed into place, so it is
# only garbage.
remove_stale_temp_dirs() {
	local d
	for d in "${NAME_DIR}"/.tmp-*; do
		if [[ -e "$d" ]]; then
			log "removing $d left by an interrupted run"
			rm -rf -- "$d"
		fi
	done
}

# load_proxy_env: use the cluster-wide proxy the MCO writes for podman and
# friends. The file is parsed (KEY=value, optional quotes), never sourced.
load_proxy_env() {
	local file="${DAY1KMOD_ROOT}/etc/mco/proxy.env" line key value
	[[ -f "$file" ]] || return 0
	while IFS= read -r line || [[ -n "$line" ]]; do
		line="${line#export }"
		[[ "$line" == *=* ]] || continue
		key="${line%%=*}"
		value="${line#*=}"
		if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
			value="${BASH_REMATCH[1]}"
		fi
		case "${key^^}" in
		HTTP_PROXY | HTTPS_PROXY | NO_PROXY)
			# Exported under both spellings: tools disagree on which they read.
			export "${key^^}=$value" "${key,,}=$value"
			log "using ${key^^} from $file"
			;;
		esac
	done <"$file"
}

# pull_image REF: podman pull with retries and exponential back-off. The
# network being "online" does not mean the registry is reachable yet.
pull_image() {
	local ref="$1" attempt delay="$PULL_FIRST_DELAY"
	local auth="${DAY1KMOD_ROOT}/var/lib/kubelet/config.json"
	local args=(pull)
	if [[ -f "$auth" ]]; then
		args+=(--authfile "$auth")
	fi
	args+=("$ref")
	for ((attempt = 1; attempt <= PULL_ATTEMPTS; attempt++)); do
		log "pulling image '$ref' (attempt $attempt of $PULL_ATTEMPTS)"
		if podman "${args[@]}" >&2; then
			return 0
		fi
		if ((attempt < PULL_ATTEMPTS)); then
			warn "pulling image '$ref' failed; retrying in ${delay}s"
			sleep "$delay"
			delay=$((delay * 2))
			if ((delay > PULL_MAX_DELAY)); then
				delay="$PULL_MAX_DELAY"
			fi
		fi
	done
	return 1
}

# image_digest REF: the digest of the pulled image, for the record and the
# reboot stamp.
image_digest() {
	local digest
	digest="$(podman image inspect --format '{{.Digest}}' "$1")" || digest=""
	if [[ -z "$digest" ]]; then
		warn "could not read the digest of image '$1'"
		digest=unknown
	fi
	printf '%s\n' "$digest"
}

# extract MNT: copy the modules for the running kernel (and the firmware)
# from the mounted image MNT into TMP_TREE. Returns 1 with the reason logged
# when a copy fails, EXIT_IMAGE_UNUSABLE when the image does not have what the
# config asks for.
extract() {
	local mnt="$1" src="$1/opt/lib/modules/${KVER}" have
	if [[ ! -d "$src" ]]; then
		have="$(find "${mnt}/opt/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null || true)"
		error "image '$IMAGE_REF' has no /opt/lib/modules/${KVER} for the running kernel (it has: ${have:-nothing})"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	if [[ -z "$(find_module_file "$src" "$CFG_MODULE")" ]]; then
		error "image '$IMAGE_REF' has no module '$CFG_MODULE' in /opt/lib/modules/${KVER}"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	if [[ -n "$CFG_FIRMWARE_PATH" && ! -d "${mnt}${CFG_FIRMWARE_PATH}" ]]; then
		error "image '$IMAGE_REF' has no firmware directory '$CFG_FIRMWARE_PATH'"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	# cp -R keeps symlinks as they are: an image that links, say,
	# /opt/lib/modules/K/host to /lib/modules/K so its modules.dep reaches
	# in-tree dependencies (as images for the Kernel Module Management
	# operator do) gets the node's own in-tree modules through it.
	log "extracting /opt/lib/modules/${KVER} from image '$IMAGE_REF'"
	mkdir -p "${TMP_TREE}/lib/modules" || return 1
	cp -R --preserve=mode,timestamps "$src" "${TMP_TREE}/lib/modules/${KVER}" || return 1
	if [[ -n "$CFG_FIRMWARE_PATH" ]]; then
		log "extracting firmware from '$CFG_FIRMWARE_PATH' in image '$IMAGE_REF'"
		cp -R --preserve=mode,timestamps "${mnt}${CFG_FIRMWARE_PATH}" "${TMP_TREE}/firmware" || return 1
	fi
}

# extract_image: mount the pulled image and extract it into TMP_TREE.
extract_image() {
	local mnt status=0
	mnt="$(podman image mount "$IMAGE_REF")" || return 1
	MOUNTED=1
	extract "$mnt" || status=$?
	MOUNTED=""
	podman image unmount "$IMAGE_REF" >/dev/null || warn "could not unmount image '$IMAGE_REF'"
	return "$status"
}

# finish_tree DIGEST REF: make TMP_TREE usable by `modprobe -d` and record
# what it holds.
finish_tree() {
	local digest="$1" ref="$2" moddir="${TMP_TREE}/lib/modules/${KVER}"
	# A kmod built with /usr/lib/modules as its module directory looks there.
	mkdir -p "${TMP_TREE}/usr/lib" || return 1
	ln -s ../../lib/modules "${TMP_TREE}/usr/lib/modules" || return 1
	# modprobe finds modules through the binary index, depmod writes both.
	if [[ ! -f "${moddir}/modules.dep" || ! -f "${moddir}/modules.dep.bin" ]]; then
		log "the image has no module index (modules.dep, modules.dep.bin): running depmod"
		depmod -b "$TMP_TREE" "$KVER" || return 1
	fi
	check_vermagic "$TMP_TREE" || return "$EXIT_IMAGE_UNUSABLE"
	# Date-free, so the same image gives the same record.
	{
		printf '# What day1kmod extracted into this directory.\n'
		printf 'name=%s\n' "$CFG_NAME"
		printf 'image=%s\n' "$CFG_IMAGE"
		printf 'reference=%s\n' "$ref"
		printf 'digest=%s\n' "$digest"
		printf 'kernel=%s\n' "$KVER"
		printf 'module=%s\n' "$CFG_MODULE"
		printf 'firmware_path=%s\n' "$CFG_FIRMWARE_PATH"
	} >"$(record_file "$TMP_TREE")" || return 1
	chmod 0755 "$TMP_TREE" || return 1
}

# commit_tree: rename TMP_TREE to TREE. A stale tree (extracted for another
# image) is first moved aside under a temporary name, so TREE is at every
# moment either absent or whole.
commit_tree() {
	local old=""
	# Data first, then the rename: after a power loss the final path never
	# names a tree whose files were not written out yet.
	sync -f "$TMP_TREE"
	if [[ -e "$TREE" ]]; then
		old="${NAME_DIR}/.tmp-${KVER}.replaced"
		rm -rf -- "$old"
		mv -T -- "$TREE" "$old"
	fi
	mv -T -- "$TMP_TREE" "$TREE"
	TMP_TREE=""
	if [[ -n "$old" ]]; then
		rm -rf -- "$old"
	fi
	log "modules for kernel $KVER are in $TREE"
}

# reboot_once DIGEST: reboot so the load unit runs with the tree on disk,
# unless this kernel and image digest already caused a reboot: a tree that
# keeps disappearing must not turn into a reboot loop.
# Where a pull that is done and only waits to reboot says so, for this boot
# only (/run is emptied by the reboot).
REBOOT_PENDING_DIR="${DAY1KMOD_ROOT}/run/day1kmod"

# wait_for_other_pulls: other Day1KernelModules' pull units may still be
# fetching on this boot; rebooting now would interrupt them and cost a boot
# more. Wait until every other pull unit is either done or itself only
# waiting to reboot (else two would wait for each other), but not forever:
# a unit that keeps retrying must not hold this module back.
wait_for_other_pulls() {
	local own="day1kmod-pull-${CFG_NAME}.service" unit _rest other others waited=0
	mkdir -p "$REBOOT_PENDING_DIR"
	: >"${REBOOT_PENDING_DIR}/${CFG_NAME}.reboot-pending"
	while :; do
		others=""
		while read -r unit _rest; do
			other="${unit#day1kmod-pull-}"
			other="${other%.service}"
			if [[ "$unit" == day1kmod-pull-*.service && "$unit" != "$own" &&
				! -e "${REBOOT_PENDING_DIR}/${other}.reboot-pending" ]]; then
				others+=" $unit"
			fi
		done < <(systemctl list-units --no-legend --plain --state=activating 'day1kmod-pull-*.service' || true)
		[[ -n "$others" ]] || return 0
		if ((waited >= REBOOT_WAIT_LIMIT)); then
			warn "still running after ${waited}s:${others}; rebooting anyway"
			return 0
		fi
		if ((waited == 0)); then
			log "waiting for${others} to finish, so one reboot serves them all"
		fi
		sleep "$REBOOT_WAIT_STEP"
		waited=$((waited + REBOOT_WAIT_STEP))
	done
}

reboot_once() {
	local digest="$1" stamp
	stamp="${NAME_DIR}/rebooted-${KVER}-${digest//[^A-Za-z0-9._-]/_}"
	if [[ -e "$stamp" ]]; then
		log "already rebooted once for kernel $KVER and image digest $digest: not rebooting again; '$CFG_MODULE' is loaded on the next boot"
		exit 0
	fi
	wait_for_other_pulls
	printf 'kernel=%s\ndigest=%s\n' "$KVER" "$digest" >"$stamp"
	log "rebooting so that '$CFG_MODULE' is loaded before the network"
	systemctl reboot
}

main() {
	day1kmod_init "$@"

	local state ref digest
	state="$(tree_state)"
	if [[ "$state" == current ]]; then
		log "modules for kernel $KVER are already on disk at $TREE: nothing to pull"
		exit 0
	fi
	if [[ "$state" == stale ]]; then
		log "the tree at $TREE was extracted from image '$(record_get "$TREE" image)'; the config now names '$CFG_IMAGE': replacing it"
	fi

	mkdir -p "$NAME_DIR"
	remove_stale_temp_dirs
	ref="$(resolve_image)"
	load_proxy_env
	trap cleanup EXIT

	pull_image "$ref" || die "could not pull image '$ref' after $PULL_ATTEMPTS attempts; not rebooting; the module stays unloaded until this unit succeeds"
	IMAGE_REF="$ref"
	digest="$(image_digest "$ref")"

	TMP_TREE="$(mktemp -d "${NAME_DIR}/.tmp-${KVER}.XXXXXX")"
	local status=0
	extract_image || status=$?
	if ((status != 0)); then
		error "could not extract the module from image '$ref'; not rebooting"
		exit "$status"
	fi
	finish_tree "$digest" "$ref" || status=$?
	if ((status != 0)); then
		error "the module extracted from image '$ref' is not usable; not rebooting"
		exit "$status"
	fi
	commit_tree
	remove_image
	trap - EXIT

	reboot_once "$digest"
}

main "$@"
