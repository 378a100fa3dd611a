# shellcheck shell=bash
# day1kmod node library: sourced by load.sh, pull.sh and fetch.sh, never run
# on its own.
#
# It holds what the scripts share: reading the config file, logging, the
# on-disk layout, image resolution, the kernel-module state helpers, time
# limits, the status file, pruning and the one reboot.
#
# Every host path is prefixed with ${DAY1KMOD_ROOT:-} so the behaviour tests
# can run the real scripts against a temporary root. On a node it is unset.

# The test root; empty on a node.
DAY1KMOD_ROOT="${DAY1KMOD_ROOT:-}"

# Where the extracted module trees live, one directory per Day1KernelModule
# name, then one per kernel version. /var is writable and survives reboots
# and OS updates on RHCOS, unlike /usr.
DAY1KMOD_STATE_DIR="${DAY1KMOD_ROOT}/var/lib/day1kmod"

# What lasts one boot (/run is emptied by a reboot): the status files
# (N.status), the fetch locks (N.fetch.lock) and the markers by which the
# gate and the fetch of N, and the gates of several modules, coordinate.
# nodescripts.RunDir in Go.
DAY1KMOD_RUN_DIR="${DAY1KMOD_ROOT}/run/day1kmod"

# Where the load installs the firmware of every Day1KernelModule, the
# kernel's firmware search path (firmware_class.path) when day1kmod sets it;
# without the test root (the kernel reads it). A dot name: no
# Day1KernelModule name starts with one. nodescripts.FirmwareDir.
# shellcheck disable=SC2034 # read by load.sh
FIRMWARE_DIR=/var/lib/day1kmod/.firmware

# The literal an image reference may carry in place of the kernel version.
KERNEL_PLACEHOLDER="\${KERNEL_FULL_VERSION}"

# Config values, filled by parse_config. Arrays hold the space-separated lists.
CFG_NAME=""
CFG_IMAGE=""
CFG_MODULE=""
CFG_FIRMWARE_PATH=""
CFG_IN_TREE=()
CFG_PARAMS=()
# The gate's bound in seconds and the reboot policy; the defaults apply to a
# config file written before these keys existed (nodescripts.Config).
CFG_MAX_KUBELET_DELAY=300
CFG_REBOOT_POLICY=BeforeKubelet
# The bound of the fetch for the next boot at shutdown, in seconds; 0: none
# (nodescripts.Config.MaxShutdownDelay).
CFG_MAX_SHUTDOWN_DELAY=300
CFG_ADDITIONAL=() # one "MODULE [PARAM...]" word list per additional module, in load order

# Derived by day1kmod_init.
KVER=""     # running kernel, `uname -r`; at shutdown, the next boot's (fetch.sh --next-boot)
# The root of the OS whose kernel KVER is: its modules and symbol lists are
# read from ${HOST_ROOT}/lib/modules/KVER. The running system's; at shutdown,
# the next boot's deployment (fetch.sh --next-boot).
# shellcheck disable=SC2034 # read by fetch.sh
HOST_ROOT="${DAY1KMOD_ROOT}"
NAME_DIR="" # ${DAY1KMOD_STATE_DIR}/N
TREE=""     # ${NAME_DIR}/K: what `modprobe -d` is pointed at; a symlink to
# the tree's directory ${NAME_DIR}/.tree-K.XXXXXX, so the fetch replaces a
# tree by one rename

# ---------------------------------------------------------------- logging

# The output goes to the journal through the unit's stderr. When it does
# (systemd sets JOURNAL_STREAM), a "<N>" prefix gives the line its syslog
# priority so errors stand out in `journalctl -p err`.
_log() {
	local prio="$1" tag="$2"
	shift 2
	local prefix=""
	if [[ -n "${JOURNAL_STREAM:-}" ]]; then
		prefix="<${prio}>"
	fi
	printf '%sday1kmod[%s]: %s%s\n' "$prefix" "${CFG_NAME:-?}" "$tag" "$*" >&2
}

log() { _log 6 "" "$@"; }
warn() { _log 4 "warning: " "$@"; }
error() { _log 3 "ERROR: " "$@"; }

# die MESSAGE...: log an error and fail the unit. DIE_REASON keeps the
# message for the status file (written by the scripts' exit traps).
DIE_REASON=""
die() {
	# shellcheck disable=SC2034 # read by the exit traps of load.sh and fetch.sh
	DIE_REASON="$*"
	error "$@"
	exit 1
}

# ---------------------------------------------------------------- config

# The shapes the config values must have (the same as nodescripts.go's
# patterns). The generator validates them strictly already; the scripts
# check again because they build paths and command lines from them. No name,
# parameter or image starts with "-": modprobe or podman would read it as an
# option.
RE_NAME='^[A-Za-z0-9][A-Za-z0-9_.-]*$'
RE_MODULE='^[A-Za-z0-9_][A-Za-z0-9_-]*$'
RE_PARAM='^[A-Za-z0-9_][A-Za-z0-9_-]*(=[A-Za-z0-9_.,:/+-]*)?$'
RE_FIRMWARE='^/[A-Za-z0-9_.+/-]*$'
RE_IMAGE='^[][A-Za-z0-9_.:/@+][][A-Za-z0-9_.:/@+-]*$' # checked with the kernel placeholder removed; [] for IPv6 hosts

# parse_config FILE: read the key=value lines of FILE into the CFG_*
# variables. The file is data: it is never sourced or evaluated, and a value
# is everything after the first "=".
parse_config() {
	local file="$1" line key value lineno=0 format=""
	[[ -r "$file" ]] || die "cannot read config file '$file'"
	while IFS= read -r line || [[ -n "$line" ]]; do
		lineno=$((lineno + 1))
		if [[ -z "$line" || "$line" == \#* ]]; then
			continue
		fi
		if [[ "$line" != *=* ]]; then
			die "config file '$file' line $lineno is not key=value: '$line'"
		fi
		key="${line%%=*}"
		value="${line#*=}"
		case "$key" in
		format) format="$value" ;;
		name) CFG_NAME="$value" ;;
		image) CFG_IMAGE="$value" ;;
		module) CFG_MODULE="$value" ;;
		in_tree_modules) read -ra CFG_IN_TREE <<<"$value" ;;
		module_parameters) read -ra CFG_PARAMS <<<"$value" ;;
		firmware_path) CFG_FIRMWARE_PATH="$value" ;;
		max_kubelet_delay) CFG_MAX_KUBELET_DELAY="$value" ;;
		reboot_policy) CFG_REBOOT_POLICY="$value" ;;
		max_shutdown_delay) CFG_MAX_SHUTDOWN_DELAY="$value" ;;
		additional_module) CFG_ADDITIONAL+=("$value") ;;
		# A newer generator may add keys: an older script ignores them.
		*) warn "config file '$file' line $lineno: unknown key '$key' ignored" ;;
		esac
	done <"$file"

	[[ "$format" == "1" ]] || die "config file '$file' has format '$format', this script reads format 1"
	check_config "$file"
}

# check_config FILE: every value has the shape the scripts rely on.
check_config() {
	local file="$1" item
	[[ "$CFG_NAME" =~ $RE_NAME ]] || die "config file '$file': bad name '$CFG_NAME'"
	item="${CFG_IMAGE//"$KERNEL_PLACEHOLDER"/}"
	[[ "$item" =~ $RE_IMAGE ]] || die "config file '$file': bad image '$CFG_IMAGE'"
	[[ "$CFG_MODULE" =~ $RE_MODULE ]] || die "config file '$file': bad module '$CFG_MODULE'"
	for item in "${CFG_IN_TREE[@]}"; do
		[[ "$item" =~ $RE_MODULE ]] || die "config file '$file': bad in-tree module '$item'"
	done
	for item in "${CFG_PARAMS[@]}"; do
		[[ "$item" =~ $RE_PARAM ]] || die "config file '$file': bad module parameter '$item'"
	done
	local words word
	for item in "${CFG_ADDITIONAL[@]}"; do
		read -ra words <<<"$item"
		[[ ${#words[@]} -gt 0 && "${words[0]}" =~ $RE_MODULE ]] || die "config file '$file': bad additional module '$item'"
		for word in "${words[@]:1}"; do
			[[ "$word" =~ $RE_PARAM ]] || die "config file '$file': bad parameter '$word' of additional module '${words[0]}'"
		done
	done
	if [[ -n "$CFG_FIRMWARE_PATH" ]]; then
		[[ "$CFG_FIRMWARE_PATH" =~ $RE_FIRMWARE && "/$CFG_FIRMWARE_PATH/" != */../* ]] ||
			die "config file '$file': bad firmware path '$CFG_FIRMWARE_PATH'"
	fi
	# 30 s to 1 h, as nodescripts.Config.Render writes it.
	if [[ ! "$CFG_MAX_KUBELET_DELAY" =~ ^[0-9]{2,4}$ ]] || ((10#$CFG_MAX_KUBELET_DELAY < 30 || 10#$CFG_MAX_KUBELET_DELAY > 3600)); then
		die "config file '$file': bad max_kubelet_delay '$CFG_MAX_KUBELET_DELAY' (seconds, 30 to 3600)"
	fi
	CFG_MAX_KUBELET_DELAY=$((10#$CFG_MAX_KUBELET_DELAY))
	# 0 (off) or 30 s to 20 min, as nodescripts.Config.Render writes it.
	if [[ "$CFG_MAX_SHUTDOWN_DELAY" != 0 ]] && { [[ ! "$CFG_MAX_SHUTDOWN_DELAY" =~ ^[0-9]{2,4}$ ]] ||
		((10#$CFG_MAX_SHUTDOWN_DELAY < 30 || 10#$CFG_MAX_SHUTDOWN_DELAY > 1200)); }; then
		die "config file '$file': bad max_shutdown_delay '$CFG_MAX_SHUTDOWN_DELAY' (seconds: 0, or 30 to 1200)"
	fi
	CFG_MAX_SHUTDOWN_DELAY=$((10#$CFG_MAX_SHUTDOWN_DELAY))
	case "$CFG_REBOOT_POLICY" in
	BeforeKubelet | Always | Never) ;;
	*) die "config file '$file': bad reboot_policy '$CFG_REBOOT_POLICY' (BeforeKubelet, Always or Never)" ;;
	esac
}

# The units of N, as nodescripts.LoadUnit, PullUnit, FetchUnit and
# PrefetchUnit name them.
load_unit() { printf 'day1kmod-load-%s.service\n' "$1"; }
gate_unit() { printf 'day1kmod-pull-%s.service\n' "$1"; }
fetch_unit() { printf 'day1kmod-fetch-%s.service\n' "$1"; }
prefetch_unit() { printf 'day1kmod-prefetch-%s.service\n' "$1"; }

# day1kmod_init CONFIG: parse the config and derive the paths for the
# running kernel. Every script starts with it.
day1kmod_init() {
	[[ $# -eq 1 ]] || die "usage: ${0##*/} CONFIG-FILE"
	parse_config "$1"
	KVER="$(uname -r)"
	[[ -n "$KVER" && "$KVER" != */* && "$KVER" != .* ]] || die "unusable kernel version '$KVER' from uname -r"
	NAME_DIR="${DAY1KMOD_STATE_DIR}/${CFG_NAME}"
	TREE="${NAME_DIR}/${KVER}"
}

# ---------------------------------------------------------------- image and tree

# kernel_tag KVER: the image tag for kernel KVER: every character a tag may
# not hold (the "+" of "+rt" and "+64k" kernels) mapped to "_", as KMM does.
# The tree on disk keeps the real KVER. Same rule as nodescripts.KernelTag.
kernel_tag() {
	printf '%s\n' "${1//[^A-Za-z0-9_.-]/_}"
}

# resolve_image: print the image reference for the running kernel. The
# placeholder is replaced by plain parameter expansion (the value is never
# evaluated); a reference without it (fixed tag, digest) is used as is.
# Same rule as nodescripts.ResolveImage.
resolve_image() {
	local tag
	tag="$(kernel_tag "$KVER")"
	printf '%s\n' "${CFG_IMAGE//"$KERNEL_PLACEHOLDER"/"$tag"}"
}

# The file in a tree that records what was extracted into it.
record_file() { printf '%s/record\n' "$1"; }

# record_get TREE KEY: print the value of KEY in TREE's record (parsed, not sourced).
record_get() {
	local file
	file="$(record_file "$1")"
	[[ -f "$file" ]] || return 0
	record_get_file "$file" "$2"
}

# tree_state: print "absent", "current", "stale" or "damaged" for TREE. A
# tree is stale when it was extracted for another image, module or firmware
# path than the config now names (the user changed the Day1KernelModule),
# damaged when a file of its manifest is missing or has another size (or the
# load found one of another content on this boot): it is then not loaded,
# and the fetch replaces it. The final path only ever names a whole tree
# (the fetch switches its link by a rename), so existence means complete.
tree_state() {
	if [[ ! -d "$TREE" ]]; then
		echo absent
	elif [[ "$(record_get "$TREE" image)" != "$CFG_IMAGE" ||
		"$(record_get "$TREE" module)" != "$CFG_MODULE" ||
		"$(record_get "$TREE" firmware_path)" != "$CFG_FIRMWARE_PATH" ]]; then
		echo stale
	elif [[ -e "$(damaged_marker)" || -n "$(tree_damage "$TREE")" ]]; then
		echo damaged
	else
		echo current
	fi
}

# The marker by which the load tells the gate and the fetch, on this boot,
# that the tree's content does not match its manifest; it holds why.
damaged_marker() { printf '%s/%s.tree-damaged\n' "$DAY1KMOD_RUN_DIR" "$CFG_NAME"; }

# tree_why_damaged: why tree_state says damaged (the load's finding on
# this boot, or the cheap check's).
tree_why_damaged() {
	local why=""
	if [[ -f "$(damaged_marker)" ]]; then
		IFS= read -r why <"$(damaged_marker)" || true
	fi
	printf '%s\n' "${why:-$(tree_damage "$TREE")}"
}

# ---------------------------------------------------------------- manifest

# The manifest of a tree: one line per regular file below lib/modules and
# firmware, "SHA256 SIZE PATH" (PATH relative to the tree), written by the
# fetch with the tree and checked by the load before it unloads anything.
manifest_file() { printf '%s/manifest\n' "$1"; }

# write_manifest DIR: write DIR's manifest.
write_manifest() {
	local dir="$1" size path hash
	local -A sizes=()
	local -a paths=() tops=()
	for path in lib/modules firmware; do
		if [[ -d "${dir}/${path}" ]]; then
			tops+=("$path")
		fi
	done
	((${#tops[@]} > 0)) || return 1
	while IFS= read -r -d '' size && IFS= read -r -d '' path; do
		sizes["$path"]="$size"
		paths+=("$path")
	done < <(cd "$dir" && find "${tops[@]}" -type f -printf '%s\0%p\0')
	{
		printf '# sha256 size path of each file day1kmod extracted into this tree\n'
		if ((${#paths[@]} > 0)); then
			printf '%s\0' "${paths[@]}" | (cd "$dir" && xargs -0 sha256sum --) |
				while read -r hash path; do
					printf '%s %s %s\n' "$hash" "${sizes[$path]}" "$path"
				done
		fi
	} >"$(manifest_file "$dir")"
}

# tree_damage TREE [full]: print why TREE does not hold what its manifest
# lists (a file missing, not a regular file, or of another size; with
# "full", also of another content, which reads every file), or nothing.
tree_damage() {
	local tree="$1" full="${2:-}" manifest line hash size path have i
	local -a paths=() lens=() hashes=() bad=()
	manifest="$(manifest_file "$tree")"
	if [[ ! -f "$manifest" ]]; then
		echo "it has no manifest ($manifest)"
		return 0
	fi
	while IFS= read -r line || [[ -n "$line" ]]; do
		[[ -n "$line" && "$line" != \#* ]] || continue
		hash="${line%% *}"
		line="${line#* }"
		size="${line%% *}"
		path="${line#* }"
		if [[ ! -f "${tree}/${path}" || -L "${tree}/${path}" ]]; then
			bad+=("${path} is missing or not a regular file")
			continue
		fi
		paths+=("$path")
		lens+=("$size")
		hashes+=("$hash")
	done <"$manifest"
	if ((${#paths[@]} > 0)); then
		i=0
		while IFS= read -r have; do
			if [[ "$have" != "${lens[i]}" ]]; then
				bad+=("${paths[i]} has $have bytes, ${lens[i]} when extracted")
			fi
			i=$((i + 1))
		done < <(printf '%s\0' "${paths[@]}" | (cd "$tree" && xargs -0 stat -c '%s' --))
		if [[ -n "$full" && ${#bad[@]} -eq 0 ]]; then
			while IFS= read -r line; do
				bad+=("${line%: FAILED*} does not match its sha256")
			done < <(for ((i = 0; i < ${#paths[@]}; i++)); do
				printf '%s  %s\n' "${hashes[i]}" "${paths[i]}"
			done | (cd "$tree" && sha256sum -c --quiet 2>/dev/null || true) | grep ': FAILED' || true)
		fi
	fi
	if ((${#bad[@]} > 0)); then
		list_some "${bad[@]}"
	fi
}

# ---------------------------------------------------------------- modules

# The kernel treats "-" and "_" in module names as the same character:
# names are compared as ${name//-/_}.

# The endings of a module file (nodescripts.ModuleFileSuffixes).
MODULE_SUFFIXES=(.ko .ko.xz .ko.zst .ko.gz)

# find_module_file DIR NAME: print the path of NAME's module file under DIR
# (one of MODULE_SUFFIXES, as nodescripts.ModuleOfFile), or nothing.
find_module_file() {
	local dir="$1" want="${2//-/_}" f base s
	[[ -d "$dir" ]] || return 0
	while IFS= read -r -d '' f; do
		base="${f##*/}"
		for s in "${MODULE_SUFFIXES[@]}"; do
			[[ "$base" == ?*"$s" ]] || continue
			base="${base%"$s"}"
			if [[ "${base//-/_}" == "$want" ]]; then
				printf '%s\n' "$f"
				return 0
			fi
			break
		done
	done < <(find "$dir" \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \) -print0)
}

# ---------------------------------------------------------------- what an image may hold

# What the node extracts for one kernel at most, in bytes: the regular files
# of /opt/lib/modules/K and of the firmware directory together
# (nodescripts.MaxTreeBytes; a test holds the two equal).
# shellcheck disable=SC2034 # read by fetch.sh
MAX_TREE_BYTES=2147483648

# tree_entry_refused REL KIND TARGET: print why the extraction refuses the
# entry REL (below its tree's root) of KIND (file, dir, symlink, char, block,
# fifo, socket) and symlink TARGET, or nothing when it is copied: regular
# files, directories and symlinks that stay inside the tree. An absolute
# target would name the host's files once the tree is on the node. Same
# rule as nodescripts.TreeEntryRefused, one table: testdata/tree-entries.tsv.
tree_entry_refused() {
	local rel="$1" kind="$2" target="$3" dir part
	local -a parts=() stack=()
	case "$kind" in
	file | dir) ;;
	symlink)
		if [[ "$target" == /* ]]; then
			echo "absolute: the tree moves on the node"
			return 0
		fi
		dir=""
		if [[ "$rel" == */* ]]; then
			dir="${rel%/*}"
		fi
		IFS=/ read -ra parts <<<"${dir}/${target}"
		for part in "${parts[@]}"; do
			case "$part" in
			"" | .) ;;
			..)
				if ((${#stack[@]} == 0)); then
					echo "points outside the tree"
					return 0
				fi
				unset 'stack[-1]'
				;;
			*) stack+=("$part") ;;
			esac
		done
		;;
	char) echo "a character device" ;;
	block) echo "a block device" ;;
	fifo) echo "a FIFO" ;;
	socket) echo "a socket" ;;
	*) echo "not a regular file, directory or symlink" ;;
	esac
}

# image_path_link MNT PATH: print "P -> TARGET" for the first component P of
# the absolute PATH that is a symlink in the image mounted at MNT, or nothing.
# Following one would leave the image for the host's own files.
image_path_link() {
	local mnt="$1" p="" part
	local -a parts=()
	IFS=/ read -ra parts <<<"${2#/}"
	for part in "${parts[@]}"; do
		[[ -n "$part" ]] || continue
		p+="/$part"
		if [[ -L "${mnt}${p}" ]]; then
			printf '%s -> %s\n' "$p" "$(readlink -- "${mnt}${p}")"
			return 0
		fi
	done
}

# scan_tree DIR SHOWN: check every entry below DIR (SHOWN: DIR's path in the
# image, for the messages) with tree_entry_refused; a symlink must also
# resolve, as the kernel would follow it, inside DIR (a chain of links that
# are each inside may still lead out). Adds each refused entry to
# SCAN_REFUSED and the regular files' sizes to SCAN_BYTES.
SCAN_REFUSED=()
SCAN_BYTES=0
scan_tree() {
	local dir="$1" shown="$2" top kind rel link size why real
	top="$(realpath -e -- "$dir")" || return 1
	while IFS= read -r -d '' kind && IFS= read -r -d '' rel && IFS= read -r -d '' link && IFS= read -r -d '' size; do
		why=""
		case "$kind" in
		f) SCAN_BYTES=$((SCAN_BYTES + size)) ;;
		d) ;;
		l) kind=symlink ;;
		c) kind=char ;;
		b) kind=block ;;
		p) kind=fifo ;;
		s) kind=socket ;;
		*) kind=other ;;
		esac
		if [[ "$rel" == *$'\n'* ]]; then
			why="a name with a newline"
		elif [[ "$kind" != [fd] ]]; then
			why="$(tree_entry_refused "$rel" "$kind" "$link")"
		fi
		if [[ -z "$why" && "$kind" == symlink ]]; then
			# -e fails on a dangling link (harmless: -m then) and on a loop.
			if ! real="$(LC_ALL=C realpath -e -- "${dir}/${rel}" 2>&1)"; then
				if [[ "$real" == *"Too many levels of symbolic links"* ]]; then
					why="a loop of symlinks"
				fi
				real="$(realpath -m -- "${dir}/${rel}")"
			fi
			if [[ -z "$why" && "$real" != "$top" && "$real" != "$top"/* ]]; then
				why="resolves outside the tree through another symlink"
			fi
		fi
		if [[ -n "$why" && "$kind" == symlink ]]; then
			SCAN_REFUSED+=("${shown}/${rel} -> ${link} (${why})")
		elif [[ -n "$why" ]]; then
			SCAN_REFUSED+=("${shown}/${rel} (${why})")
		fi
	done < <(find "$dir" -mindepth 1 -printf '%y\0%P\0%l\0%s\0')
}

# list_some ITEM...: the first five items, comma-separated, and how many more.
list_some() {
	local out="" i
	for ((i = 0; i < $# && i < 5; i++)); do
		out+="${out:+, }${*:i+1:1}"
	done
	if (($# > 5)); then
		out+=" and $(($# - 5)) more"
	fi
	printf '%s\n' "$out"
}

# module_field BASE NAME FIELD: modinfo FIELD of NAME in BASE's tree for the
# running kernel; empty (and modinfo's message logged) when modinfo fails.
LIMIT_MODINFO=10 # seconds: modinfo reads one file; it runs before the network
module_field() {
	run_limited "$LIMIT_MODINFO" modinfo -b "$1" -k "$KVER" -F "$3" "$2" || true
}

# check_vermagic BASE [MODULE]: MODULE (default: the configured one) is in
# BASE and was built for the running kernel. A module built for another
# kernel would be refused by the kernel or, worse, crash it. Prints the
# reason and returns 1 otherwise.
check_vermagic() {
	local base="$1" m="${2:-$CFG_MODULE}" vermagic built_for
	if [[ -z "$(find_module_file "${base}/lib/modules/${KVER}" "$m")" ]]; then
		error "module '$m' is not in ${base}/lib/modules/${KVER}"
		return 1
	fi
	vermagic="$(module_field "$base" "$m" vermagic)"
	built_for="${vermagic%% *}"
	if [[ "$built_for" != "$KVER" ]]; then
		error "module '$m' was built for kernel '${built_for:-unknown}' but the running kernel is '$KVER' (vermagic '$vermagic')"
		return 1
	fi
}

# sig_enforced: print why the running kernel refuses unsigned modules
# (module.sig_enforce=1, or lockdown in integrity or confidentiality mode,
# as with Secure Boot on RHEL), or nothing (and return 1) when it does not.
sig_enforced() {
	local v="" lockdown=""
	if [[ -r "${DAY1KMOD_ROOT}/sys/module/module/parameters/sig_enforce" ]]; then
		IFS= read -r v <"${DAY1KMOD_ROOT}/sys/module/module/parameters/sig_enforce" || true
	fi
	if [[ "$v" == Y ]]; then
		echo "module.sig_enforce is set"
		return 0
	fi
	if [[ -r "${DAY1KMOD_ROOT}/sys/kernel/security/lockdown" ]]; then
		IFS= read -r lockdown <"${DAY1KMOD_ROOT}/sys/kernel/security/lockdown" || true
	fi
	if [[ "$lockdown" == *"[integrity]"* || "$lockdown" == *"[confidentiality]"* ]]; then
		echo "the kernel is locked down (${lockdown})"
		return 0
	fi
	return 1
}

# check_signature BASE [MODULE]: where the running kernel enforces module
# signatures, the module (default: the config's) in BASE is signed; the kernel would refuse it
# otherwise, after the in-tree driver was unloaded. Whether its key is
# enrolled cannot be told here: the kernel says so when it loads it (and the
# load rolls back).
check_signature() {
	local why signer m="${2:-$CFG_MODULE}"
	why="$(sig_enforced)" || return 0
	signer="$(module_field "$1" "$m" signer)"
	if [[ -z "$signer" ]]; then
		error "module '$m' in $1 is not signed, and the running kernel refuses unsigned modules ($why)"
		return 1
	fi
	log "module '$m' is signed by '$signer' (the kernel enforces signatures: $why)"
}

# module_loaded NAME: NAME is in /proc/modules.
module_loaded() {
	local want="${1//-/_}" name _rest
	[[ -r "${DAY1KMOD_ROOT}/proc/modules" ]] || return 1
	while read -r name _rest; do
		if [[ "${name//-/_}" == "$want" ]]; then
			return 0
		fi
	done <"${DAY1KMOD_ROOT}/proc/modules"
	return 1
}

# module_users NAME: the modules that use NAME (4th field of /proc/modules),
# to explain why it cannot be unloaded.
module_users() {
	local want="${1//-/_}" name _size _refs users _rest
	while read -r name _size _refs users _rest; do
		if [[ "${name//-/_}" == "$want" ]]; then
			printf '%s\n' "${users%,}"
			return 0
		fi
	done <"${DAY1KMOD_ROOT}/proc/modules"
}

# loaded_attr NAME ATTR: /sys/module/NAME/ATTR (srcversion, version), or empty.
loaded_attr() {
	local file value=""
	file="${DAY1KMOD_ROOT}/sys/module/${1//-/_}/$2"
	if [[ -r "$file" ]]; then
		IFS= read -r value <"$file" || true
	fi
	printf '%s\n' "$value"
}

# module_state NAME: the state column of /proc/modules for NAME (Live,
# Loading while its init runs, Unloading), or nothing when not loaded.
module_state() {
	local want="${1//-/_}" name _size _refs _users state _rest
	[[ -r "${DAY1KMOD_ROOT}/proc/modules" ]] || return 0
	while read -r name _size _refs _users state _rest; do
		if [[ "${name//-/_}" == "$want" ]]; then
			printf '%s\n' "$state"
			return 0
		fi
	done <"${DAY1KMOD_ROOT}/proc/modules"
}

# ---------------------------------------------------------------- time

# now: seconds since the epoch. From date(1), not $EPOCHSECONDS, so the
# behaviour tests can play the clock.
now() { date +%s; }

# utc_now: the time for the status file, RFC 3339 in UTC.
utc_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# pause SECONDS: wait without a child process (read's timeout on a pipe that
# nobody writes), so it is not the sleep(1) the retries use.
pause() { read -rt "$1" <> <(:) || true; }

# How long run_limited waits for a stopped command: after TERM, then after
# KILL.
KILL_GRACE=2

# run_limited SECONDS COMMAND [ARG...]: run COMMAND for at most SECONDS
# (none at all when SECONDS <= 0). Returns its status, or 124 when it was
# stopped at the limit. The command runs in the background and this shell
# waits with its own deadline, so a command that cannot be killed (a process
# in uninterruptible sleep in the kernel, e.g. a module whose init hangs)
# cannot hold the script: it is left behind and LIMIT_STUCK is set to 1.
LIMIT_STUCK=0
_LIMIT_HIT=0
run_limited() {
	local limit="$1" pid watchdog status=0 me="$BASHPID" deadline again
	shift
	LIMIT_STUCK=0
	((limit > 0)) || return 124
	deadline=$(($(now) + limit))
	_LIMIT_HIT=0
	# The watchdog interrupts the wait below at the deadline. Set here, not
	# once, because a $(...) subshell does not inherit traps.
	trap '_LIMIT_HIT=1' USR1
	"$@" &
	pid=$!
	(
		# Killed below when the command ends, maybe while date writes to
		# its pipe: that date's "write error: Broken pipe" is noise.
		while (($(now 2>/dev/null) < deadline)); do
			pause 1
		done
		kill -USR1 "$me" 2>/dev/null
	) &
	watchdog=$!
	wait "$pid" || status=$?
	kill "$watchdog" 2>/dev/null || true
	while kill -0 "$watchdog" 2>/dev/null; do
		wait "$watchdog" 2>/dev/null || true
	done
	if ((_LIMIT_HIT)); then
		if kill -0 "$pid" 2>/dev/null; then
			_stop "$pid"
			return 124
		fi
		# It ended just as the watchdog fired: its own status counts.
		again=0
		wait "$pid" 2>/dev/null || again=$?
		if ((again != 127)); then
			status="$again"
		fi
	fi
	return "$status"
}

# _stop PID: TERM, then KILL; each given KILL_GRACE seconds.
_stop() {
	local pid="$1" sig i
	for sig in TERM KILL; do
		kill -"$sig" "$pid" 2>/dev/null || true
		for ((i = 0; i < KILL_GRACE * 10; i++)); do
			if ! kill -0 "$pid" 2>/dev/null; then
				wait "$pid" 2>/dev/null || true
				return 0
			fi
			pause 0.1
		done
	done
	# shellcheck disable=SC2034 # read by the callers of run_limited
	LIMIT_STUCK=1
}

# ---------------------------------------------------------------- status file

# The status file of N: key=value lines (no quoting, the value is everything
# after the first "="), rewritten whole by every run of load, gate and fetch.
# Read it with: cat /run/day1kmod/N.status (nodescripts.StatusPath).
status_file() { printf '%s/%s.status\n' "$DAY1KMOD_RUN_DIR" "$CFG_NAME"; }

# Every key, in the order written; each script sets its own and the common
# ones are computed afresh.
STATUS_KEYS=(name kernel module loaded module_version module_srcversion tree image digest
	load_result load_reason load_time pull_result pull_reason pull_time reboot_pending
	prefetch_result prefetch_kernel prefetch_reason prefetch_time)

# How long a script waits for another one writing the status file.
STATUS_LOCK_WAIT=5

# The srcversion of the module in the tree for this kernel, once looked up.
TREE_SRCVERSION=""

# status_get KEY: KEY's value in the status file, or nothing.
status_get() {
	local line file
	file="$(status_file)"
	[[ -f "$file" ]] || return 0
	while IFS= read -r line || [[ -n "$line" ]]; do
		if [[ "$line" == "$1="* ]]; then
			printf '%s\n' "${line#*=}"
			return 0
		fi
	done <"$file"
}

# status_set KEY=VALUE...: merge the given keys into the status file. Load,
# gate and fetch may write at the same time: a lock serialises the
# read-modify-write, and the file is replaced by a rename, so a reader sees
# either the old or the new file, whole. load_time/pull_time follow
# load_result/pull_result. A failure to write is logged, never fatal: the
# status must not break what it reports on.
status_set() {
	local file tmp lock fd line key kv value
	local -A st=()
	file="$(status_file)"
	lock="${DAY1KMOD_RUN_DIR}/${CFG_NAME}.status.lock"
	if ! mkdir -p "$DAY1KMOD_RUN_DIR" 2>/dev/null || ! exec {fd}>>"$lock"; then
		warn "cannot write the status file $file"
		return 0
	fi
	flock -w "$STATUS_LOCK_WAIT" "$fd" || warn "the status file $file is locked by another script; writing it anyway"
	if [[ -f "$file" ]]; then
		while IFS= read -r line || [[ -n "$line" ]]; do
			[[ "$line" == *=* && "$line" != \#* ]] || continue
			st["${line%%=*}"]="${line#*=}"
		done <"$file"
	fi
	for kv in "$@"; do
		key="${kv%%=*}"
		value="${kv#*=}"
		st["$key"]="${value//$'\n'/ }"
		case "$key" in
		load_result) st[load_time]="$(utc_now)" ;;
		pull_result) st[pull_time]="$(utc_now)" ;;
		esac
	done
	# What every script knows: what runs now and what is on disk for this kernel.
	st[name]="$CFG_NAME"
	st[kernel]="$KVER"
	st[module]="$CFG_MODULE"
	st[image]="$(resolve_image)"
	st[tree]=""
	st[digest]=""
	if [[ "$(tree_state)" == current ]]; then
		st[tree]="$TREE"
		st[digest]="$(record_get "$TREE" digest)"
		if [[ -z "$TREE_SRCVERSION" ]]; then
			TREE_SRCVERSION="$(module_field "$TREE" "$CFG_MODULE" srcversion 2>/dev/null)"
		fi
	fi
	st[module_version]="$(loaded_attr "$CFG_MODULE" version)"
	st[module_srcversion]="$(loaded_attr "$CFG_MODULE" srcversion)"
	if ! module_loaded "$CFG_MODULE"; then
		st[loaded]=none
	elif [[ -n "${st[module_srcversion]}" && "${st[module_srcversion]}" == "$TREE_SRCVERSION" ]]; then
		st[loaded]=oot
	else
		st[loaded]=in-tree
	fi
	st[reboot_pending]="${st[reboot_pending]:-no}"
	# What the last shutdown's fetch for the next boot did (it ran on the
	# boot before this one: its own status file is gone with /run).
	for key in result kernel reason time; do
		st["prefetch_${key}"]=""
		if [[ -f "$(prefetch_record)" ]]; then
			st["prefetch_${key}"]="$(record_get_file "$(prefetch_record)" "$key")"
		fi
	done
	tmp="${file}.tmp.$$"
	if ! {
		printf '# day1kmod status of %s on this boot: key=value, the value is everything after the first "=".\n' "$CFG_NAME"
		printf '# Written by the load (%s), gate (%s) and fetch (%s) units; prefetch_* by %s at the last shutdown.\n' \
			"$(load_unit "$CFG_NAME")" "$(gate_unit "$CFG_NAME")" "$(fetch_unit "$CFG_NAME")" "$(prefetch_unit "$CFG_NAME")"
		for key in "${STATUS_KEYS[@]}"; do
			printf '%s=%s\n' "$key" "${st[$key]:-}"
		done
	} >"$tmp" 2>/dev/null || ! mv -f -- "$tmp" "$file" 2>/dev/null; then
		rm -f -- "$tmp"
		warn "cannot write the status file $file"
	fi
	exec {fd}>&-
}

# ---------------------------------------------------------------- pruning

# prune_trees: keep the tree of the running kernel and the newest other one
# (booting the previous kernel again must still load the module); remove
# the trees of older kernels and the reboot stamps of every kernel but those
# two. Only entries of NAME_DIR are touched.
prune_trees() {
	local d k keep="" entry stamp_kernel target
	[[ -d "$NAME_DIR" ]] || return 0
	for d in "$NAME_DIR"/*/; do
		d="${d%/}"
		k="${d##*/}"
		[[ -d "$d" && "$k" != "$KVER" ]] || continue
		if [[ -z "$keep" || "$(record_file "$d")" -nt "$(record_file "${NAME_DIR}/${keep}")" ]]; then
			keep="$k"
		fi
	done
	for d in "$NAME_DIR"/*/; do
		d="${d%/}"
		k="${d##*/}"
		[[ -d "$d" && "$k" != "$KVER" && "$k" != "$keep" ]] || continue
		log "removing the tree of kernel $k ($d): neither the running kernel $KVER nor the previous one${keep:+ ($keep)}"
		if [[ -L "$d" ]]; then
			target="$(readlink -- "$d")"
			rm -f -- "$d"
			if [[ "$target" == .tree-* && "$target" != */* ]]; then
				rm -rf -- "${NAME_DIR:?}/${target}"
			fi
		else
			rm -rf -- "$d"
		fi
	done
	for entry in "$NAME_DIR"/rebooted-*; do
		[[ -f "$entry" ]] || continue
		stamp_kernel="$(record_get_file "$entry" kernel)"
		if [[ "$stamp_kernel" != "$KVER" && "$stamp_kernel" != "$keep" ]]; then
			log "removing the reboot stamp $entry of kernel ${stamp_kernel:-unknown}"
			rm -f -- "$entry"
		fi
	done
}

# The record of the last fetch for the next boot made at shutdown (fetch.sh
# --next-boot): result, kernel, reason, time. In the state directory, not
# /run: the boot after that shutdown reports it (status_set).
prefetch_record() { printf '%s/prefetch\n' "$NAME_DIR"; }

# record_get_file FILE KEY: KEY's value in a key=value FILE.
record_get_file() {
	local line
	while IFS= read -r line || [[ -n "$line" ]]; do
		if [[ "$line" == "$2="* ]]; then
			printf '%s\n' "${line#*=}"
			return 0
		fi
	done <"$1"
}

# ---------------------------------------------------------------- reboot

# reboot_stamp DIGEST: the file that says the node rebooted once for the
# running kernel and this image digest: a tree that keeps disappearing must
# not turn into a reboot loop.
reboot_stamp() { printf '%s/rebooted-%s-%s\n' "$NAME_DIR" "$KVER" "${1//[^A-Za-z0-9._-]/_}"; }

# The marker a gate writes when its tree is in and it only waits to reboot;
# the one a gate writes when it gave up holding the kubelet.
reboot_pending_marker() { printf '%s/%s.reboot-pending\n' "$DAY1KMOD_RUN_DIR" "$1"; }
gave_up_marker() { printf '%s/%s.gate-gave-up\n' "$DAY1KMOD_RUN_DIR" "$CFG_NAME"; }

# kubelet_started: the kubelet runs or ran on this boot, so workloads may run.
kubelet_started() {
	local entered state
	entered="$(systemctl show -P ActiveEnterTimestampMonotonic kubelet.service 2>/dev/null || true)"
	state="$(systemctl is-active kubelet.service 2>/dev/null || true)"
	[[ -n "$entered" && "$entered" != 0 ]] || [[ "$state" == active || "$state" == activating || "$state" == reloading ]]
}

# do_reboot DIGEST WHY: reboot once for this kernel and digest. Returns 1
# (not rebooting) when the stamp says it was done already.
do_reboot() {
	local digest="$1" why="$2" stamp
	stamp="$(reboot_stamp "$digest")"
	if [[ -e "$stamp" ]]; then
		log "already rebooted once for kernel $KVER and image digest $digest: not rebooting again; '$CFG_MODULE' is loaded at the next boot"
		return 1
	fi
	printf 'kernel=%s\ndigest=%s\n' "$KVER" "$digest" >"$stamp"
	status_set pull_reason="rebooting: $why" reboot_pending=yes
	log "rebooting: $why"
	systemctl reboot
}
