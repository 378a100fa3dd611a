#!/bin/bash
# day1kmod fetch: pull the kernel module image and extract the module tree
# for the running kernel.
#
# Usage: fetch.sh CONFIG-FILE
#        fetch.sh --next-boot CONFIG-FILE   (at shutdown: see "next boot" below)
#
# Run by day1kmod-fetch-N.service, which the gate (pull.sh, in front of the
# kubelet) starts when the tree for the running kernel is not on disk. It
# pulls the image with podman, copies /opt/lib/modules/$(uname -r) (and the
# firmware directory) out of it into the state directory and removes the
# image. Failures are retried with a capped back-off until it works or the
# image turns out unusable.
#
# The tree is built in a temporary directory next to its final place and
# renamed into place: an interrupted run never leaves a half tree where the
# load unit looks. The gate watches for that rename and reboots while it
# still holds the kubelet; a fetch that finishes after the gate gave up
# follows the reboot policy (it never reboots under the default).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${0%fetch.sh}lib.sh"

# Retries: the first after 5 s, each next one after twice as long, at most
# 300 s apart, until the fetch works: the registry may come back hours later,
# and a late fetch only stages the tree (the reboot policy decides).
FETCH_FIRST_DELAY=5
FETCH_MAX_DELAY=300
# One podman pull may take this long (a large image over a slow link).
LIMIT_PULL=900
# One look at the registry for the digest a tag points to (the manifest only).
LIMIT_INSPECT=60

# Exit status when the image was pulled but does not hold what the config
# asks for: retrying cannot help until the image changes
# (nodescripts.FetchExitImageUnusable).
EXIT_IMAGE_UNUSABLE=2

# State for the exit trap, which cleans up whatever a failure leaves behind.
IMAGE_REF=""   # set once the image is pulled: removed on exit
MOUNTED=""     # set while the image is mounted
TMP_TREE=""    # the tree under construction: removed on exit unless committed
DIGEST=""      # of the pulled image
TAG_DIGEST=""  # what the registry said the tag points to, before the pull
FETCH_ERROR="" # why the last attempt failed, for the status file
PULL_RESULT="" # what the status file reports at exit

cleanup() {
	local code=$?
	if [[ -z "$PULL_RESULT" && -n "$KVER" ]]; then
		PULL_RESULT=failed
		status_set pull_result=failed pull_reason="${DIE_REASON:-the fetch ended with status $code}"
	fi
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

# remove_stale_temp_dirs: a run killed mid-extract or mid-commit (power
# loss, timeout) leaves its temporary tree, link or a tree no link names
# behind; none of them is what TREE names, so they are only garbage. Only
# run under the fetch lock: no other fetch is building one now.
remove_stale_temp_dirs() {
	local d l
	local -A used=()
	for l in "$NAME_DIR"/*; do
		if [[ -L "$l" ]]; then
			used["$(readlink -- "$l")"]=1
		fi
	done
	for d in "$NAME_DIR"/.tmp-* "$NAME_DIR"/.link-* "$NAME_DIR"/.tree-*; do
		[[ -e "$d" || -L "$d" ]] || continue
		[[ -z "${used[${d##*/}]:-}" ]] || continue
		log "removing $d left by an interrupted run"
		rm -rf -- "$d"
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

# pull_image REF [DEADLINE]: one podman pull, time-limited (and ended at
# DEADLINE, when given). The network being "online" does not mean the
# registry is reachable yet: the caller retries.
pull_image() {
	local ref="$1" deadline="${2:-0}" limit="$LIMIT_PULL"
	local auth="${DAY1KMOD_ROOT}/var/lib/kubelet/config.json"
	local args=(pull)
	if ((deadline > 0 && deadline - $(now) < limit)); then
		limit=$((deadline - $(now)))
	fi
	if [[ -f "$auth" ]]; then
		args+=(--authfile "$auth")
	fi
	args+=("$ref")
	log "pulling image '$ref'"
	run_limited "$limit" podman "${args[@]}" >&2
}

# registry_digest REF: print the digest the registry's tag REF points to
# now, asked with skopeo inspect (it reads the manifest only, never the
# layers), or nothing when skopeo is missing or the registry does not answer
# (logged).
registry_digest() {
	local ref="$1" auth="${DAY1KMOD_ROOT}/var/lib/kubelet/config.json" out
	local args=(inspect --no-tags --format '{{.Digest}}')
	if ! command -v skopeo >/dev/null; then
		log "skopeo is not installed: whether tag '$ref' moved is not checked"
		return 0
	fi
	if [[ -f "$auth" ]]; then
		args+=(--authfile "$auth")
	fi
	args+=("docker://${ref}")
	if ! out="$(run_limited "$LIMIT_INSPECT" skopeo "${args[@]}")" || [[ "$out" != *:* ]]; then
		warn "could not ask the registry which digest tag '$ref' points to: not checked on this boot"
		return 0
	fi
	printf '%s\n' "$out"
}

# tag_moved REF: the tree for the running kernel is current, but the tag REF
# now points to another image (a moving tag, or a kernel tag rebuilt with a
# fix): say so with both digests and return 0. A digest reference never
# moves: it is never asked about.
tag_moved() {
	local ref="$1" old new
	[[ "$ref" != *@* ]] || return 1
	old="$(record_get "$TREE" tag_digest)"
	old="${old:-$(record_get "$TREE" digest)}"
	new="$(registry_digest "$ref")"
	[[ -n "$new" ]] || return 1
	if [[ "$new" == "$old" ]]; then
		log "image tag '$ref' still points to $old: the tree for kernel $KVER is current"
		return 1
	fi
	warn "image tag '$ref' now points to $new; the tree for kernel $KVER at $TREE was extracted from $old: fetching the new image"
	TAG_DIGEST="$new"
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
# from the mounted image MNT into TMP_TREE. Returns 1 with the reason in
# FETCH_ERROR when a copy fails or space is short (worth a retry),
# EXIT_IMAGE_UNUSABLE when the image does not have what the config asks for
# or holds what the node never extracts.
extract() {
	local mnt="$1" kdir="/opt/lib/modules/${KVER}" src have link
	src="${mnt}${kdir}"
	link="$(image_path_link "$mnt" "$kdir")"
	if [[ -n "$link" ]]; then
		error "image '$IMAGE_REF': $link is a symlink: the modules for kernel $KVER must be a directory in the image (a link would be followed to the host's files); refused"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	if [[ ! -d "$src" ]]; then
		have="$(find "${mnt}/opt/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null || true)"
		error "image '$IMAGE_REF' has no /opt/lib/modules/${KVER} for the running kernel (it has: ${have:-nothing})"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	if [[ -z "$(find_module_file "$src" "$CFG_MODULE")" ]]; then
		error "image '$IMAGE_REF' has no module '$CFG_MODULE' in /opt/lib/modules/${KVER}"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	if [[ -n "$CFG_FIRMWARE_PATH" ]]; then
		link="$(image_path_link "$mnt" "$CFG_FIRMWARE_PATH")"
		if [[ -n "$link" ]]; then
			error "image '$IMAGE_REF': firmware directory '$CFG_FIRMWARE_PATH': $link is a symlink (it would be followed to the host's files); refused"
			return "$EXIT_IMAGE_UNUSABLE"
		fi
		if [[ ! -d "${mnt}${CFG_FIRMWARE_PATH}" ]]; then
			error "image '$IMAGE_REF' has no firmware directory '$CFG_FIRMWARE_PATH'"
			return "$EXIT_IMAGE_UNUSABLE"
		fi
	fi
	SCAN_REFUSED=()
	SCAN_BYTES=0
	scan_tree "$src" "$kdir" || return 1
	if [[ -n "$CFG_FIRMWARE_PATH" ]]; then
		scan_tree "${mnt}${CFG_FIRMWARE_PATH}" "${CFG_FIRMWARE_PATH%/}" || return 1
	fi
	if ((${#SCAN_REFUSED[@]} > 0)); then
		error "image '$IMAGE_REF' holds what the node never extracts (regular files, directories and symlinks inside the tree only): $(list_some "${SCAN_REFUSED[@]}")"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	if ((SCAN_BYTES > MAX_TREE_BYTES)); then
		error "image '$IMAGE_REF': the files for kernel $KVER take $SCAN_BYTES bytes, more than the node's bound of $MAX_TREE_BYTES bytes (nodescripts.MaxTreeBytes); refused"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	check_free_space "$SCAN_BYTES" || return 1
	# Only what scan_tree accepted is there: cp -R copies the symlinks
	# inside the tree as links, which resolve inside the tree.
	log "extracting /opt/lib/modules/${KVER} from image '$IMAGE_REF' ($SCAN_BYTES bytes)"
	mkdir -p "${TMP_TREE}/lib/modules" || return 1
	cp -R --preserve=mode,timestamps "$src" "${TMP_TREE}/lib/modules/${KVER}" || return 1
	if [[ -n "$CFG_FIRMWARE_PATH" ]]; then
		log "extracting firmware from '$CFG_FIRMWARE_PATH' in image '$IMAGE_REF'"
		cp -R --preserve=mode,timestamps "${mnt}${CFG_FIRMWARE_PATH}" "${TMP_TREE}/firmware" || return 1
	fi
}

# What must stay free on the file system of the state directory beyond the
# tree: a tenth of it and 64 MiB, so /var (the kubelet, container storage,
# the journal) is never filled to the last byte by day1kmod.
FREE_MARGIN_BYTES=$((64 << 20))

# check_free_space BYTES: the state directory's file system has room for a
# tree of BYTES and the margin. Else FETCH_ERROR says the numbers and it
# returns 1: the fetch backs off and retries with the image it already
# pulled (space may be freed), never downloading it again.
check_free_space() {
	local need avail
	need=$(($1 + $1 / 10 + FREE_MARGIN_BYTES))
	avail="$(df -B1 --output=avail -- "$NAME_DIR" 2>/dev/null | tail -n 1 || true)"
	avail="${avail//[[:space:]]/}"
	if [[ ! "$avail" =~ ^[0-9]+$ ]]; then
		warn "could not read the free space of $NAME_DIR (df): extracting anyway"
		return 0
	fi
	if ((avail < need)); then
		FETCH_ERROR="not enough free space for the tree in $NAME_DIR: it needs $1 bytes plus a margin, $need bytes in all; $avail bytes are free"
		error "$FETCH_ERROR"
		return 1
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

# The name under the tree's module directory of the link to the host's
# modules of the running kernel: `modprobe -d` on the tree then finds the
# in-tree dependencies of the out-of-tree module (an OOT irdma needs the
# in-tree ib_core) without the image carrying them.
HOST_LINK=day1kmod-host

# The depmod configuration of a tree: the image's own modules come before
# the host's, so an out-of-tree module wins over the in-tree one of the same
# name (RHEL's search order, with the host's tree last).
DEPMOD_SEARCH="search updates extra built-in weak-updates ${HOST_LINK}"

# link_host_modules MODDIR: link MODDIR/day1kmod-host to the host's module
# directory of kernel KVER (in HOST_ROOT: the next boot's deployment when
# fetching at shutdown) and copy its modules.builtin* (which modules are
# built into this kernel), so the tree resolves like the host. finish_tree
# points the link at the path the booted kernel will see once indexed.
link_host_modules() {
	local moddir="$1" host="${HOST_ROOT}/lib/modules/${KVER}" f
	if [[ -e "${moddir}/${HOST_LINK}" || -L "${moddir}/${HOST_LINK}" ]]; then
		error "image '$IMAGE_REF' has its own /opt/lib/modules/${KVER}/${HOST_LINK}: that name is the node's link to the host's modules"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
	if [[ ! -d "$host" ]]; then
		warn "the host has no $host: in-tree dependencies of '$CFG_MODULE' cannot be resolved"
		return 0
	fi
	ln -s -- "$host" "${moddir}/${HOST_LINK}" || return 1
	for f in modules.builtin modules.builtin.modinfo; do
		if [[ -f "${host}/${f}" ]]; then
			cp --remove-destination -- "${host}/${f}" "${moddir}/${f}" || return 1
		fi
	done
}

# host_symbols FILE: write the running kernel's exported symbols (with
# their CRCs) to FILE and print the depmod option that reads it: -E for the
# kernel's symvers (RHCOS ships /lib/modules/K/symvers.gz), else -F for its
# System.map. Prints nothing when the host has neither.
host_symbols() {
	local out="$1" host="${HOST_ROOT}/lib/modules/${KVER}" boot="${HOST_ROOT}/boot" f
	for f in "${host}/symvers.gz" "${boot}/symvers-${KVER}.gz"; do
		if [[ -f "$f" ]] && gzip -dc -- "$f" >"$out"; then
			printf '%s\n' "-E"
			return 0
		fi
	done
	if [[ -f "${host}/symvers" ]] && cp -- "${host}/symvers" "$out"; then
		printf '%s\n' "-E"
		return 0
	fi
	# depmod -F reads the exports from the __ksymtab_ entries of System.map:
	# one without them would make every kernel symbol look missing.
	for f in "${host}/System.map" "${boot}/System.map-${KVER}"; do
		if [[ -f "$f" ]] && grep -q ' __ksymtab_' -- "$f" && cp -- "$f" "$out"; then
			printf '%s\n' "-F"
			return 0
		fi
	done
}

# index_tree: write the tree's module index with depmod (over the image's
# modules and, through the host link, the host's), and check that every
# symbol a module of the image needs is exported by the running kernel, a
# host module or the tree: a module that cannot resolve one fails to load,
# which is found out here, before the reboot, not after it.
index_tree() {
	local conf="${TMP_TREE}/depmod.conf" syms="${TMP_TREE}/host-symbols" opt out line missing=()
	printf '%s\n' "$DEPMOD_SEARCH" >"$conf" || return 1
	opt="$(host_symbols "$syms")"
	if [[ -z "$opt" ]]; then
		warn "the host has no symvers or System.map for kernel $KVER: the symbols '$CFG_MODULE' needs are not checked before the reboot"
		out="$(depmod -b "$TMP_TREE" -C "$conf" "$KVER" 2>&1)" || {
			error "depmod on the tree failed: $out"
			return 1
		}
	else
		out="$(depmod -b "$TMP_TREE" -C "$conf" -e "$opt" "$syms" "$KVER" 2>&1)" || {
			error "depmod on the tree failed: $out"
			return 1
		}
	fi
	rm -f -- "$syms"
	local sym file
	while IFS= read -r line; do
		# "depmod: WARNING: /path/x.ko needs unknown symbol S", or
		# "... disagrees about version of symbol S"; the host's own modules
		# are not the image's business.
		case "$line" in
		*" needs unknown symbol "* | *" disagrees about version of symbol "*) ;;
		*) continue ;;
		esac
		[[ "$line" != *"/${HOST_LINK}/"* ]] || continue
		sym="${line##* symbol }"
		file="${line#*WARNING: }"
		file="${file%% needs unknown symbol *}"
		file="${file%% disagrees about version of symbol *}"
		file="${file#"${TMP_TREE}/lib/modules/${KVER}/"}"
		if [[ "$line" == *" disagrees "* ]]; then
			missing+=("$sym (needed by $file: another version)")
		else
			missing+=("$sym (needed by $file)")
		fi
	done <<<"$out"
	if ((${#missing[@]} > 0)); then
		error "image '$IMAGE_REF': modules need symbols that neither the running kernel $KVER, its modules nor the image provide: $(list_some "${missing[@]}")"
		return "$EXIT_IMAGE_UNUSABLE"
	fi
}

# finish_tree DIGEST REF: make TMP_TREE usable by `modprobe -d` and record
# what it holds.
finish_tree() {
	local digest="$1" ref="$2" moddir="${TMP_TREE}/lib/modules/${KVER}"
	# A kmod built with /usr/lib/modules as its module directory looks there.
	mkdir -p "${TMP_TREE}/usr/lib" || return 1
	ln -s ../../lib/modules "${TMP_TREE}/usr/lib/modules" || return 1
	link_host_modules "$moddir" || return
	index_tree || return
	# Indexed through the next deployment's tree at shutdown: the booted
	# kernel finds its modules at the usual path.
	if [[ "$HOST_ROOT" != "$DAY1KMOD_ROOT" && -L "${moddir}/${HOST_LINK}" ]]; then
		ln -sfn -- "${DAY1KMOD_ROOT}/lib/modules/${KVER}" "${moddir}/${HOST_LINK}" || return 1
	fi
	check_vermagic "$TMP_TREE" || return "$EXIT_IMAGE_UNUSABLE"
	check_signature "$TMP_TREE" || return "$EXIT_IMAGE_UNUSABLE"
	local entry words
	# The further modules too, before any reboot: the load would refuse the
	# tree after it.
	for entry in "${CFG_ADDITIONAL[@]}"; do
		read -ra words <<<"$entry"
		check_vermagic "$TMP_TREE" "${words[0]}" || return "$EXIT_IMAGE_UNUSABLE"
		check_signature "$TMP_TREE" "${words[0]}" || return "$EXIT_IMAGE_UNUSABLE"
	done
	# Date-free, so the same image gives the same record.
	{
		printf '# What day1kmod extracted into this directory.\n'
		printf 'name=%s\n' "$CFG_NAME"
		printf 'image=%s\n' "$CFG_IMAGE"
		printf 'reference=%s\n' "$ref"
		printf 'digest=%s\n' "$digest"
		printf 'tag_digest=%s\n' "$TAG_DIGEST"
		printf 'kernel=%s\n' "$KVER"
		printf 'module=%s\n' "$CFG_MODULE"
		printf 'firmware_path=%s\n' "$CFG_FIRMWARE_PATH"
	} >"$(record_file "$TMP_TREE")" || return 1
	write_manifest "$TMP_TREE" || return 1
	chmod 0755 "$TMP_TREE" || return 1
}

# commit_tree: put TMP_TREE in place as TREE, atomically. TREE is a
# symlink to the tree's own directory (.tree-K.XXXXXX): the tree is renamed
# to that name, then a new link to it replaces the old link by one rename(2).
# After a power loss at any point TREE names the old tree, whole, or the new
# one, whole; what is left over (.tmp-*, .link-*, an unreferenced .tree-*)
# the next fetch removes. A TREE that is still a directory (written before
# trees were linked) is moved aside first: only then is there a moment
# without a tree, which the next fetch fills.
commit_tree() {
	local id final link old=""
	id="${TMP_TREE##*/.tmp-}"
	final="${NAME_DIR}/.tree-${id}"
	link="${NAME_DIR}/.link-${id}"
	# Data first, then the renames: after a power loss the final path never
	# names a tree whose files were not written out yet.
	sync -f "$TMP_TREE" || return 1
	mv -T -- "$TMP_TREE" "$final" || return 1
	TMP_TREE="$final" # removed by the caller if what follows fails
	sync -f "$NAME_DIR" || return 1
	if [[ -L "$TREE" ]]; then
		old="$(readlink -- "$TREE")"
	elif [[ -e "$TREE" ]]; then
		old=".tree-${KVER}.dir"
		rm -rf -- "${NAME_DIR:?}/${old}"
		mv -T -- "$TREE" "${NAME_DIR}/${old}" || return 1
	fi
	ln -s -- "${final##*/}" "$link" || return 1
	mv -T -- "$link" "$TREE" || return 1
	TMP_TREE=""
	rm -f -- "$(damaged_marker)"
	sync -f "$NAME_DIR" || true
	if [[ "$old" == .tree-* && "$old" != */* ]]; then
		rm -rf -- "${NAME_DIR:?}/${old}"
	fi
	log "modules for kernel $KVER are in $TREE (-> ${final##*/})"
}

# fetch_once REF [DEADLINE]: one attempt: pull (unless an earlier attempt
# of this run pulled the image already: a retry does not download it
# again), extract, check and commit. Returns 1 on a failure worth retrying
# (FETCH_ERROR says why), EXIT_IMAGE_UNUSABLE when the image cannot work.
fetch_once() {
	local ref="$1" deadline="${2:-0}" status=0
	FETCH_ERROR=""
	if [[ -z "$IMAGE_REF" ]]; then
		if ! pull_image "$ref" "$deadline"; then
			FETCH_ERROR="could not pull image '$ref'"
			return 1
		fi
		IMAGE_REF="$ref"
		DIGEST="$(image_digest "$ref")"
	fi
	TMP_TREE="$(mktemp -d "${NAME_DIR}/.tmp-${KVER}.XXXXXX")" || {
		FETCH_ERROR="could not create a temporary directory in $NAME_DIR"
		return 1
	}
	extract_image || status=$?
	if ((status == 0)); then
		finish_tree "$DIGEST" "$ref" || status=$?
	fi
	if ((status == 0)); then
		commit_tree || status=$?
	fi
	if ((status != 0)); then
		rm -rf -- "$TMP_TREE"
		TMP_TREE=""
		if ((status == EXIT_IMAGE_UNUSABLE)); then
			FETCH_ERROR="image '$ref' (digest $DIGEST) cannot work for kernel $KVER: see the error above"
		elif [[ -z "$FETCH_ERROR" ]]; then
			FETCH_ERROR="could not extract the module from image '$ref' into $NAME_DIR"
		fi
		return "$status"
	fi
}

# gate_holds: the gate of N still holds the kubelet, so it reboots when it
# sees the tree. The gate writes its gave-up marker before it looks at the
# tree a last time, and this script looks for the marker after the rename:
# one of the two always sees the other.
gate_holds() {
	[[ "$(systemctl is-active "$(gate_unit "$CFG_NAME")" 2>/dev/null || true)" == activating ]] &&
		[[ ! -e "$(gave_up_marker)" ]] && ! kubelet_started
}

# stage WHY: the tree is committed and day1kmod does not reboot for it now.
stage() {
	PULL_RESULT=staged
	status_set pull_result=staged pull_reason="$1" reboot_pending=yes
	warn "$1"
}

# after_commit: the tree for the running kernel is in place; the gate
# reboots, or the reboot policy decides.
after_commit() {
	local next="'$CFG_MODULE' is loaded at the next reboot (the MCD's next drained reboot, or any other)"
	if [[ "$CFG_REBOOT_POLICY" == Never ]]; then
		stage "rebootPolicy Never: day1kmod does not reboot; $next"
		return 0
	fi
	if gate_holds; then
		PULL_RESULT=fetched
		status_set pull_result=fetched pull_reason="tree for kernel $KVER committed while $(gate_unit "$CFG_NAME") holds the kubelet: the gate reboots" reboot_pending=yes
		log "modules for kernel $KVER are on disk; $(gate_unit "$CFG_NAME") still holds the kubelet and reboots"
		return 0
	fi
	case "$CFG_REBOOT_POLICY" in
	Always)
		warn "the fetch finished after the kubelet was let start: rebootPolicy Always reboots now, without a drain: the pods of this node are killed"
		PULL_RESULT=fetched
		status_set pull_result=fetched pull_reason="late fetch, rebootPolicy Always" reboot_pending=yes
		do_reboot "$DIGEST" "rebootPolicy Always: loading '$CFG_MODULE' although workloads may run" ||
			stage "already rebooted once for kernel $KVER and digest $DIGEST: not rebooting again; $next"
		;;
	*)
		stage "the fetch finished after the kubelet was let start: rebootPolicy BeforeKubelet does not reboot a node that may run workloads; $next"
		;;
	esac
}

# fetch_until REF DEADLINE: fetch_once until it works, backing off between
# attempts; before DEADLINE (seconds since the epoch; 0: none) only. Returns
# 0 once the tree is committed, EXIT_IMAGE_UNUSABLE when the image cannot
# work, EXIT_OUT_OF_TIME when no attempt fits before DEADLINE any more.
# FETCH_ERROR says why the last attempt failed; on_retry MESSAGE reports
# each retry.
EXIT_OUT_OF_TIME=3
fetch_until() {
	local ref="$1" deadline="$2" delay="$FETCH_FIRST_DELAY" attempt=0 status
	while :; do
		attempt=$((attempt + 1))
		status=0
		fetch_once "$ref" "$deadline" || status=$?
		((status != 0)) || return 0
		((status != EXIT_IMAGE_UNUSABLE)) || return "$status"
		if ((deadline > 0 && $(now) + delay >= deadline)); then
			return "$EXIT_OUT_OF_TIME"
		fi
		on_retry "attempt $attempt: $FETCH_ERROR; retrying in ${delay}s"
		sleep "$delay"
		delay=$((delay * 2 > FETCH_MAX_DELAY ? FETCH_MAX_DELAY : delay * 2))
	done
}

# on_retry MESSAGE: the fetch unit's report of a failed attempt.
on_retry() {
	status_set pull_result=fetching pull_reason="$1"
	warn "$1"
}

# start_fetching: the lock, the proxy and the leftovers of interrupted runs;
# every fetch begins with it. Returns 1 when another fetch of N holds the
# lock (waiting for it at most LOCK_WAIT seconds).
LOCK_WAIT=0
start_fetching() {
	local lock_fd
	mkdir -p "$DAY1KMOD_RUN_DIR"
	# One fetch at a time per N: a second one (started by hand, or by a
	# gate while this one runs) leaves the work to this one.
	exec {lock_fd}>"${DAY1KMOD_RUN_DIR}/${CFG_NAME}.fetch.lock"
	if ! flock -w "$LOCK_WAIT" "$lock_fd"; then
		log "another fetch of '$CFG_NAME' is running (${DAY1KMOD_RUN_DIR}/${CFG_NAME}.fetch.lock): leaving the work to it"
		return 1
	fi
	if [[ -d "$NAME_DIR" ]]; then
		remove_stale_temp_dirs
	fi
	load_proxy_env
}

main() {
	day1kmod_init "$@"
	start_fetching || exit 0

	trap cleanup EXIT
	local state ref status=0
	state="$(tree_state)"
	ref="$(resolve_image)"
	if [[ "$state" == current ]]; then
		# Started by the gate of a boot whose tree is current: only the
		# registry's answer about the tag can make this fetch do anything.
		if ! tag_moved "$ref"; then
			PULL_RESULT=current
			status_set pull_result=current pull_reason="modules for kernel $KVER are on disk at $TREE"
			log "modules for kernel $KVER are already on disk at $TREE: nothing to fetch"
			exit 0
		fi
		status_set pull_result=fetching pull_reason="image tag '$ref' now points to $TAG_DIGEST, the tree has $(record_get "$TREE" digest): fetching the new image"
	elif [[ "$ref" != *@* ]]; then
		TAG_DIGEST="$(registry_digest "$ref")"
	fi
	if [[ "$state" == stale ]]; then
		log "the tree at $TREE was extracted from image '$(record_get "$TREE" image)'; the config now names '$CFG_IMAGE': replacing it"
	elif [[ "$state" == damaged ]]; then
		warn "the tree at $TREE is damaged ($(tree_why_damaged)): extracting it again"
	fi

	mkdir -p "$NAME_DIR"
	fetch_until "$ref" 0 || status=$?
	if ((status != 0)); then
		PULL_RESULT=unusable
		status_set pull_result=unusable pull_reason="$FETCH_ERROR; not retrying"
		error "$FETCH_ERROR; not retrying, not rebooting: the node keeps the in-tree driver until the image is fixed"
		exit "$EXIT_IMAGE_UNUSABLE"
	fi
	remove_image
	trap - EXIT
	prune_trees
	after_commit
}

# ---------------------------------------------------------------- next boot

# fetch.sh --next-boot CONFIG-FILE: the ExecStop= of day1kmod-prefetch-N.service,
# which runs at every shutdown after the kubelet stopped and before the
# network goes down. The MCD writes the new config file (and an OS update
# stages the next deployment) before its reboot: this fetches the tree the
# next boot needs, when it is not on disk, so that boot loads the module
# without a reboot of day1kmod's own. Bounded by max_shutdown_delay; what it
# cannot finish is left to the next boot's gate, and nothing it leaves
# behind is ever loaded (the tree is committed by one rename, or not at all).

# How long one look at the OS deployments, or at the route to the registry,
# may take.
LIMIT_QUERY=10

# NEXT_ROOT, NEXT_KVER, NEXT_FROM: set by next_deployment.
NEXT_ROOT=""
NEXT_KVER=""
NEXT_FROM=""

# next_deployment: find the kernel the next boot runs. `ostree admin status`
# reads the sysroot itself (rpm-ostree asks its daemon, which a shutdown may
# not start again) and lists the deployments in boot order: the first one is
# the next boot's, marked "*" when it is the booted one. Its root is
# /ostree/deploy/OS/deploy/CHECKSUM.SERIAL and its kernel the directory
# usr/lib/modules/K holding a regular file vmlinuz (how ostree itself finds
# it). Not an ostree system, or the booted deployment first: the running
# kernel. Returns 1 with NEXT_FROM saying why when neither works.
next_deployment() {
	local out line marker os csum serial root dir
	NEXT_ROOT="$DAY1KMOD_ROOT"
	NEXT_KVER="$KVER"
	NEXT_FROM="the running kernel"
	command -v ostree >/dev/null || return 0
	if ! out="$(run_limited "$LIMIT_QUERY" ostree admin status 2>&1)"; then
		NEXT_FROM="'ostree admin status' failed: ${out//$'\n'/ }"
		return 1
	fi
	while IFS= read -r line; do
		[[ "$line" =~ ^([*\ ])\ ([A-Za-z0-9_][A-Za-z0-9_.-]*)\ ([0-9a-f]{64})\.([0-9]+)( .*)?$ ]] || continue
		marker="${BASH_REMATCH[1]}"
		os="${BASH_REMATCH[2]}"
		csum="${BASH_REMATCH[3]}"
		serial="${BASH_REMATCH[4]}"
		break
	done <<<"$out"
	if [[ -z "${csum:-}" ]]; then
		NEXT_FROM="'ostree admin status' lists no deployment"
		return 1
	fi
	[[ "$marker" != "*" ]] || return 0
	root="${DAY1KMOD_ROOT}/ostree/deploy/${os}/deploy/${csum}.${serial}"
	for dir in "$root"/usr/lib/modules/*/; do
		dir="${dir%/}"
		if [[ -f "${dir}/vmlinuz" && "${dir##*/}" != .* ]]; then
			NEXT_KVER="${dir##*/}"
			NEXT_ROOT="$root"
			NEXT_FROM="the next deployment ${csum:0:12}.${serial}"
			return 0
		fi
	done
	NEXT_FROM="the next deployment ${csum}.${serial} has no kernel (no usr/lib/modules/K/vmlinuz under $root)"
	return 1
}

# registry_route REF: 0 when the host to reach for REF (the proxy's, when
# one is set) resolves and the node has a route to it. Else the network is
# down for this purpose: ROUTE_ERROR says why. A name without a dot, a colon
# or "localhost" is left to the container tools' search list: not checked.
ROUTE_ERROR=""
registry_route() {
	local host="${1%%/*}" proxy="${HTTPS_PROXY:-}" addr
	[[ "$1" == */* && ( "$host" == *[.:]* || "$host" == localhost ) ]] || return 0
	if [[ -n "$proxy" ]]; then
		host="${proxy#*://}"
		host="${host#*@}"
		host="${host%%/*}"
	fi
	if [[ "$host" == \[* ]]; then
		host="${host#[}"
		host="${host%%]*}"
	elif [[ "$host" == *:*:* ]]; then
		: # a bare IPv6 address
	else
		host="${host%%:*}"
	fi
	addr="$(run_limited "$LIMIT_QUERY" getent ahosts "$host" | awk 'NR == 1 { print $1 }')" || true
	if [[ -z "$addr" ]]; then
		ROUTE_ERROR="cannot resolve '$host'"
		return 1
	fi
	if ! run_limited "$LIMIT_QUERY" ip route get "$addr" >/dev/null 2>&1; then
		ROUTE_ERROR="no route to '$host' ($addr)"
		return 1
	fi
}

# prefetch_done RESULT REASON: record what this shutdown did for the next
# boot, for the journal (by the caller) and the next boot's status file.
prefetch_done() {
	local file tmp
	file="$(prefetch_record)"
	tmp="${file}.tmp"
	if ! mkdir -p "$NAME_DIR" || ! printf 'result=%s\nkernel=%s\nreason=%s\ntime=%s\n' "$1" "$NEXT_KVER" "${2//$'\n'/ }" "$(utc_now)" >"$tmp" ||
		! mv -f -- "$tmp" "$file"; then
		warn "cannot write $file"
	fi
}

# next_boot_main CONFIG-FILE: look, and fetch in a worker bounded by
# max_shutdown_delay (the worker's own deadline ends its retries; past the
# bound it is stopped, and a stopped worker's leftovers are never loaded).
next_boot_main() {
	day1kmod_init "$@"
	local started bound ref state status=0 why
	started="$(now)"
	bound="$CFG_MAX_SHUTDOWN_DELAY"
	if ((bound == 0)); then
		NEXT_KVER=""
		prefetch_done disabled "max_shutdown_delay is 0"
		log "next boot: maxShutdownDelay is 0: not fetching at shutdown"
		return 0
	fi
	if ! next_deployment; then
		prefetch_done skipped "cannot tell the next boot's kernel: $NEXT_FROM"
		warn "next boot: cannot tell the next boot's kernel ($NEXT_FROM): not fetching; the next boot's gate fetches what it needs"
		return 0
	fi
	KVER="$NEXT_KVER"
	HOST_ROOT="$NEXT_ROOT"
	TREE="${NAME_DIR}/${KVER}"
	state="$(tree_state)"
	ref="$(resolve_image)"
	if [[ "$state" == current ]]; then
		prefetch_done current "modules for kernel $KVER ($NEXT_FROM) are on disk"
		log "next boot: modules for kernel $KVER are on disk at $TREE: nothing to fetch"
		return 0
	fi
	load_proxy_env
	if ! registry_route "$ref"; then
		prefetch_done skipped "$ROUTE_ERROR: the network is down"
		warn "next boot: $ROUTE_ERROR (the network is down): not fetching; the next boot's gate fetches it"
		return 0
	fi
	log "next boot: no current tree for kernel $KVER ($NEXT_FROM): fetching image '$ref', at most ${bound}s (maxShutdownDelay)"
	rm -f -- "$(prefetch_error_file)"
	run_limited "$((bound - 2 * KILL_GRACE))" "${BASH:-bash}" "$0" --next-boot-worker "$1" "$KVER" "$HOST_ROOT" "$((started + bound - 2 * KILL_GRACE - 5))" || status=$?
	why=""
	if [[ -f "$(prefetch_error_file)" ]]; then
		IFS= read -r why <"$(prefetch_error_file)" || true
		rm -f -- "$(prefetch_error_file)"
	fi
	case "$status" in
	0)
		prefetch_done fetched "image '$ref' for kernel $KVER ($NEXT_FROM), in $(($(now) - started))s"
		log "next boot: fetched image '$ref' for kernel $KVER in $(($(now) - started))s: the next boot loads '$CFG_MODULE' without a reboot of day1kmod's own"
		;;
	"$EXIT_IMAGE_UNUSABLE")
		[[ -n "$why" ]] || why="image '$ref' cannot work for kernel $KVER"
		prefetch_done unusable "$why"
		warn "next boot: $why; the next boot keeps the in-tree driver"
		;;
	*)
		((status != 124)) || why="stopped at the bound${why:+ (last: $why)}"
		why="${why:-the fetch ended with status $status}"
		prefetch_done gave-up "$why"
		warn "next boot: gave up after $(($(now) - started))s (maxShutdownDelay ${bound}s): $why; nothing changed, the next boot's gate fetches it"
		;;
	esac
}

# Where the worker leaves its last error for next_boot_main (one boot long).
prefetch_error_file() { printf '%s/%s.prefetch-error\n' "$DAY1KMOD_RUN_DIR" "$CFG_NAME"; }

# on_retry in the worker: the journal, and the error for next_boot_main.
next_boot_on_retry() {
	warn "next boot: $1"
	printf '%s\n' "$FETCH_ERROR" >"$(prefetch_error_file)" || true
}

# next_boot_worker CONFIG-FILE KERNEL HOST-ROOT DEADLINE: the fetch of the
# tree for KERNEL, with the fetch unit's checks (lock, free space, manifest,
# signature, symbols against HOST-ROOT's kernel, atomic switch), no retry
# that would end past DEADLINE, and no reboot. A TERM (the bound) runs the
# cleanup: the temporary tree and the image go.
next_boot_worker() {
	day1kmod_init "$1"
	KVER="$2"
	HOST_ROOT="$3"
	TREE="${NAME_DIR}/${KVER}"
	local deadline="$4" ref status=0
	on_retry() { next_boot_on_retry "$@"; }
	LOCK_WAIT=$((deadline - $(now)))
	((LOCK_WAIT > 0)) || LOCK_WAIT=0
	if ! start_fetching; then
		FETCH_ERROR="another fetch of '$CFG_NAME' held the lock until the bound"
		printf '%s\n' "$FETCH_ERROR" >"$(prefetch_error_file)"
		exit "$EXIT_OUT_OF_TIME"
	fi
	PULL_RESULT="next-boot" # the status file is this boot's: not about KERNEL
	trap cleanup EXIT
	trap 'exit 143' TERM
	ref="$(resolve_image)"
	if [[ "$ref" != *@* ]]; then
		TAG_DIGEST="$(registry_digest "$ref")"
	fi
	mkdir -p "$NAME_DIR"
	fetch_until "$ref" "$deadline" || status=$?
	if ((status != 0)); then
		printf '%s\n' "$FETCH_ERROR" >"$(prefetch_error_file)"
		exit "$status"
	fi
	remove_image
	trap - EXIT
}

case "${1:-}" in
--next-boot)
	shift
	next_boot_main "$@"
	;;
--next-boot-worker)
	shift
	next_boot_worker "$@"
	;;
*) main "$@" ;;
esac
