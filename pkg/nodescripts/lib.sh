# shellcheck shell=bash
# day1kmod node library: sourced by load.sh and pull.sh, never run on its own.
#
# It holds what both scripts share: reading the config file, logging, the
# on-disk layout, image resolution and the kernel-module state helpers.
#
# Every host path is prefixed with ${DAY1KMOD_ROOT:-} so the behaviour tests
# can run the real scripts against a temporary root. On a node it is unset.

# The test root; empty on a node.
DAY1KMOD_ROOT="${DAY1KMOD_ROOT:-}"

# Where the extracted module trees live, one directory per Day1KernelModule
# name, then one per kernel version. /var is writable and survives reboots
# and OS updates on RHCOS, unlike /usr.
DAY1KMOD_STATE_DIR="${DAY1KMOD_ROOT}/var/lib/day1kmod"

# The literal an image reference may carry in place of the kernel version.
KERNEL_PLACEHOLDER="\${KERNEL_FULL_VERSION}"

# Config values, filled by parse_config. Arrays hold the space-separated lists.
CFG_NAME=""
CFG_IMAGE=""
CFG_MODULE=""
CFG_FIRMWARE_PATH=""
CFG_IN_TREE=()
CFG_PARAMS=()
CFG_ADDITIONAL=() # one "MODULE [PARAM...]" word list per additional module, in load order

# Derived by day1kmod_init.
KVER=""     # running kernel, `uname -r`
NAME_DIR="" # ${DAY1KMOD_STATE_DIR}/N
TREE=""     # ${NAME_DIR}/K: what `modprobe -d` is pointed at

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

# die MESSAGE...: log an error and fail the unit.
die() {
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
}

# day1kmod_init CONFIG: parse the config and derive the paths for the
# running kernel. Both scripts start with it.
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
	local file line
	file="$(record_file "$1")"
	[[ -f "$file" ]] || return 0
	while IFS= read -r line || [[ -n "$line" ]]; do
		if [[ "${line%%=*}" == "$2" && "$line" == *=* ]]; then
			printf '%s\n' "${line#*=}"
			return 0
		fi
	done <"$file"
}

# tree_state: print "absent", "current", or "stale" for TREE. A tree is
# stale when it was extracted for another image, module or firmware path than
# the config now names (the user changed the Day1KernelModule): it is then
# not loaded, and pull replaces it. The final path only ever holds a whole
# tree (pull renames it into place), so existence means complete.
tree_state() {
	if [[ ! -d "$TREE" ]]; then
		echo absent
	elif [[ "$(record_get "$TREE" image)" == "$CFG_IMAGE" &&
		"$(record_get "$TREE" module)" == "$CFG_MODULE" &&
		"$(record_get "$TREE" firmware_path)" == "$CFG_FIRMWARE_PATH" ]]; then
		echo current
	else
		echo stale
	fi
}

# ---------------------------------------------------------------- modules

# The kernel treats "-" and "_" in module names as the same character:
# names are compared as ${name//-/_}.

# find_module_file DIR NAME: print the path of NAME's .ko file under DIR
# (compressed or not), or nothing.
find_module_file() {
	local dir="$1" want="${2//-/_}" f base
	[[ -d "$dir" ]] || return 0
	while IFS= read -r -d '' f; do
		base="${f##*/}"
		base="${base%%.ko*}"
		if [[ "${base//-/_}" == "$want" ]]; then
			printf '%s\n' "$f"
			return 0
		fi
	done < <(find "$dir" \( -name '*.ko' -o -name '*.ko.*' \) -print0)
}

# module_field BASE NAME FIELD: modinfo FIELD of NAME in BASE's tree for the
# running kernel; empty (and modinfo's message logged) when modinfo fails.
module_field() {
	modinfo -b "$1" -k "$KVER" -F "$3" "$2" || true
}

# check_vermagic BASE: the module in BASE was built for the running kernel.
# A module built for another kernel would be refused by the kernel or,
# worse, crash it. Prints the reason and returns 1 otherwise.
check_vermagic() {
	local base="$1" vermagic built_for
	if [[ -z "$(find_module_file "${base}/lib/modules/${KVER}" "$CFG_MODULE")" ]]; then
		error "module '$CFG_MODULE' is not in ${base}/lib/modules/${KVER}"
		return 1
	fi
	vermagic="$(module_field "$base" "$CFG_MODULE" vermagic)"
	built_for="${vermagic%% *}"
	if [[ "$built_for" != "$KVER" ]]; then
		error "module '$CFG_MODULE' was built for kernel '${built_for:-unknown}' but the running kernel is '$KVER' (vermagic '$vermagic')"
		return 1
	fi
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
