#!/usr/bin/env bash
# Adds what day1kmod generates for each Day1KernelModule file (a
# MachineConfig, and a MachineConfigPool for a custom pool) to the manifests
# of `openshift-install create manifests --dir CLUSTER_DIR`, one object per
# file (the installer takes one object per file), as
# CLUSTER_DIR/openshift/99_day1kmod_<kind>_<name>.yaml:
#
#   examples/openshift-install/add-to-manifests.sh CLUSTER_DIR DAY1KERNELMODULE.yaml...
#
# Then `openshift-install create cluster --dir CLUSTER_DIR` (or create
# ignition-configs). Needs kpt and the function: $DAY1KMOD (default
# bin/day1kmod, make build) and $KPT (default kpt). Nothing is written when
# any file is refused.
set -euo pipefail

if (($# < 2)); then
	echo "usage: $0 CLUSTER_DIR DAY1KERNELMODULE.yaml..." >&2
	exit 2
fi
cluster_dir=$1
shift
fn=${DAY1KMOD:-bin/day1kmod}
kpt=${KPT:-kpt}
manifests=$cluster_dir/openshift
if [[ ! -d $manifests ]]; then
	echo "$0: $manifests not found: run openshift-install create manifests --dir $cluster_dir first" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Every file renders into its own empty package; kpt names each new item
# <kind>_<name>.yaml. A refused file stops here, before anything is copied.
i=0
for cfg in "$@"; do
	i=$((i + 1))
	mkdir "$tmp/$i"
	if ! out=$("$kpt" fn eval "$tmp/$i" --exec "$fn" --fn-config "$cfg" 2>&1); then
		printf '%s: %s:\n%s\n' "$0" "$cfg" "$out" >&2
		exit 1
	fi
done
for f in "$tmp"/*/*.yaml; do
	dest=$manifests/99_day1kmod_$(basename "$f")
	if [[ -e $dest ]] && ! cmp -s "$f" "$dest"; then
		echo "$0: replacing $dest"
	fi
	cp "$f" "$dest"
	echo "$dest"
done
