# shellcheck shell=bash
# Shared by the fake commands in fakebin/: they stand in for the host tools
# the node scripts call, record every call and play the kernel's state under
# the test root.
#
#   DAY1KMOD_ROOT  the test root (proc/modules, sys/module, lib/modules, ...)
#   FAKE_DIR       calls.log, the fake registry (registry/KEY/{digest,rootfs})
#                  and the fake container storage (store/KEY)
#   FAKE_KERNEL    what `uname -r` prints
set -euo pipefail

# shellcheck disable=SC2034 # used by the fakes that source this file
ROOT="${DAY1KMOD_ROOT:?}"
: "${FAKE_DIR:?}"

# record_call ARGS...: append "command args..." to calls.log.
record_call() {
	{
		printf '%s' "${0##*/}"
		printf ' %s' "$@"
		printf '\n'
	} >>"${FAKE_DIR}/calls.log"
}

norm() { printf '%s\n' "${1//-/_}"; }

# lookup_module MODDIR NAME: print NAME's module file, found through
# MODDIR/modules.dep like kmod does (no modules.dep, no module).
lookup_module() {
	local dir="$1" want line path base
	want="$(norm "$2")"
	[[ -f "${dir}/modules.dep" ]] || return 1
	while IFS= read -r line; do
		path="${line%%:*}"
		base="${path##*/}"
		base="${base%%.ko*}"
		if [[ "$(norm "$base")" == "$want" ]]; then
			printf '%s/%s\n' "$dir" "$path"
			return 0
		fi
	done <"${dir}/modules.dep"
	return 1
}

# ko_field FILE KEY: a fake .ko file is key=value text (vermagic, version,
# srcversion).
ko_field() {
	local line
	while IFS= read -r line; do
		if [[ "${line%%=*}" == "$2" ]]; then
			printf '%s\n' "${line#*=}"
			return 0
		fi
	done <"$1"
}

# image_key REF: the directory name of an image in the registry and store.
image_key() { printf '%s\n' "${1//[\/:@]/_}"; }

# The fake clock: FAKE_DIR/clock, seconds since the epoch.
clock() {
	local t=1767225600
	if [[ -f "${FAKE_DIR}/clock" ]]; then
		read -r t <"${FAKE_DIR}/clock" || true
	fi
	printf '%s\n' "$t"
}

# advance_clock SECONDS: time passes (written whole: watchdogs read it).
advance_clock() {
	local t
	t="$(clock)"
	printf '%s\n' "$((t + ${1:-0}))" >"${FAKE_DIR}/clock.$$"
	mv -f "${FAKE_DIR}/clock.$$" "${FAKE_DIR}/clock"
}

# hang: play a command stuck in the kernel: a long time passes on the fake
# clock (FAKE_HANG_SECONDS, default a day), and the process stays until
# killed (it ignores TERM, as a process in uninterruptible sleep would; KILL
# ends it, which the kernel would not).
hang() {
	advance_clock "${FAKE_HANG_SECONDS:-86400}"
	trap '' TERM
	while :; do
		"${FAKE_REAL_SLEEP:?}" 0.1
	done
}
