# shellcheck shell=bash
# Shared helpers of the VM end-to-end harness. Sourced, not run.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$E2E_DIR/../../.." && pwd)

# Kernel ABI of the guest, pinned: the OOT module is built against exactly this
# kernel, and the base image cache is keyed by it. It must exist in the
# mirror's bookworm suite; when a Debian point release drops it, bump it here
# (or set E2E_KERNEL_ABI) and the cache rebuilds.
E2E_KERNEL_ABI=${E2E_KERNEL_ABI:-6.1.0-50-amd64}
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
		cd "$E2E_DIR"
		echo "$E2E_KERNEL_ABI $E2E_SUITE"
		cat build-base.sh base-chroot.sh kmod/Kbuild kmod/oot.c
	) | sha256sum | cut -c1-16
}
