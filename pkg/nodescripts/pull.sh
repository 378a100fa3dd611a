#!/bin/bash
# day1kmod gate: hold the kubelet, for a bounded time, while the module tree
# for the running kernel is fetched, then reboot once before any workload runs.
#
# Usage: pull.sh CONFIG-FILE
#
# Run by day1kmod-pull-N.service, ordered after network-online.target and the
# MCD's firstboot service and before the kubelet (not at all on the
# install-time boot). When the tree for the running kernel is on disk it
# exits at once: a normal boot costs the kubelet nothing. Otherwise (first
# boot after the install, a kernel upgrade, a new image) it starts
# day1kmod-fetch-N.service and waits for the tree, at most max_kubelet_delay
# seconds. In time: it reboots the node once (the kubelet never started, so
# no pod is killed). Past the bound: it says why at error priority and exits
# 0, so the kubelet starts with the in-tree driver; the fetch goes on in the
# background and the reboot policy decides what its end does.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${0%pull.sh}lib.sh"

# How often the gate looks whether the tree is in, and the other gates are done.
GATE_POLL=5

# What the status file reports at exit (set before each exit).
PULL_RESULT=""

on_exit() {
	local code=$?
	if [[ -z "$PULL_RESULT" && -n "$KVER" ]]; then
		status_set pull_result=failed pull_reason="${DIE_REASON:-the gate ended with status $code}"
	fi
}

# wait_for_other_gates DEADLINE: other Day1KernelModules' gates may still be
# waiting for their fetches on this boot; rebooting now would interrupt them
# and cost a boot more. Wait until every other gate is either done or itself
# only waiting to reboot (else two would wait for each other), but not past
# this gate's own bound.
wait_for_other_gates() {
	local deadline="$1" own unit _rest other others logged=""
	own="$(gate_unit "$CFG_NAME")"
	: >"$(reboot_pending_marker "$CFG_NAME")"
	while :; do
		others=""
		while read -r unit _rest; do
			other="${unit#day1kmod-pull-}"
			other="${other%.service}"
			if [[ "$unit" == day1kmod-pull-*.service && "$unit" != "$own" &&
				! -e "$(reboot_pending_marker "$other")" ]]; then
				others+=" $unit"
			fi
		done < <(systemctl list-units --no-legend --plain --state=activating 'day1kmod-pull-*.service' || true)
		[[ -n "$others" ]] || return 0
		if (($(now) >= deadline)); then
			warn "still fetching at the end of the kubelet delay:${others}; rebooting anyway (they fetch again on the next boot, before the kubelet)"
			return 0
		fi
		if [[ -z "$logged" ]]; then
			log "waiting for${others} to finish, so one reboot serves them all"
			logged=1
		fi
		sleep "$GATE_POLL"
	done
}

# policy_outcome: what happens when a fetch ends after the kubelet started.
policy_outcome() {
	case "$CFG_REBOOT_POLICY" in
	Always) echo "when it finishes, rebootPolicy Always reboots the node although workloads may run: their pods are killed without a drain" ;;
	Never) echo "when it finishes, the tree is staged; rebootPolicy Never: day1kmod does not reboot, '$CFG_MODULE' is loaded at the next reboot someone else makes" ;;
	*) echo "when it finishes, the tree is staged and '$CFG_MODULE' is loaded at the next reboot (the MCD's next drained reboot); rebootPolicy BeforeKubelet does not reboot a node that may run workloads" ;;
	esac
}

# in_time: the tree is on disk and the kubelet still waits: reboot once.
in_time() {
	local digest
	digest="$(record_get "$TREE" digest)"
	prune_trees
	PULL_RESULT=waiting
	status_set pull_result=waiting pull_reason="fetched before the kubelet started; rebooting once all gates are done" reboot_pending=yes
	wait_for_other_gates "$DEADLINE"
	PULL_RESULT=fetched
	status_set pull_result=fetched pull_reason="fetched before the kubelet started" reboot_pending=yes
	if ! do_reboot "${digest:-unknown}${REPAIR:+-repaired}" "the module tree for kernel $KVER is on disk and the kubelet has not started: rebooting once so that '$CFG_MODULE' is loaded before the network"; then
		PULL_RESULT=staged
		status_set pull_result=staged pull_reason="fetched again after a reboot for the same kernel and digest: not rebooting again" reboot_pending=yes
	fi
}

# give_up: the bound is reached: the kubelet starts, the fetch goes on.
give_up() {
	local outcome
	outcome="$(policy_outcome)"
	PULL_RESULT=fetching
	status_set pull_result=fetching pull_reason="not fetched within ${CFG_MAX_KUBELET_DELAY}s: the kubelet starts with the in-tree driver; $(fetch_unit "$CFG_NAME") goes on in the background; $outcome"
	error "the module '$CFG_MODULE' for kernel $KVER was not fetched within ${CFG_MAX_KUBELET_DELAY}s (max_kubelet_delay): the kubelet starts now and the node keeps the in-tree driver; $(fetch_unit "$CFG_NAME") goes on in the background; $outcome"
}

# start_tag_check: the tree is current; ask, in the background (the fetch
# unit, not waited for: neither the kubelet nor the boot waits), whether the
# image tag now points to another image. A digest reference never moves. The
# gave-up marker first: this gate holds nothing, so a new tree found now
# follows the reboot policy.
start_tag_check() {
	local ref fetch
	ref="$(resolve_image)"
	[[ "$ref" != *@* ]] || return 0
	fetch="$(fetch_unit "$CFG_NAME")"
	mkdir -p "$DAY1KMOD_RUN_DIR"
	: >"$(gave_up_marker)"
	log "checking in the background ($fetch) whether image tag '$ref' still points to $(record_get "$TREE" digest)"
	systemctl start --no-block "$fetch" || warn "could not start $fetch: whether tag '$ref' moved is not checked on this boot"
}

DEADLINE=0
# Set when this gate repairs a damaged tree: the tree was loaded (or meant
# to be) on an earlier boot for the same digest, so the reboot stamp of that
# digest exists; a repair may reboot once more, under its own stamp.
REPAIR=""

main() {
	day1kmod_init "$@"
	DEADLINE=$(($(now) + CFG_MAX_KUBELET_DELAY))
	trap on_exit EXIT

	local state fetch result
	state="$(tree_state)"
	if [[ "$state" == current ]]; then
		prune_trees
		PULL_RESULT=current
		status_set pull_result=current pull_reason="modules for kernel $KVER are on disk at $TREE"
		log "modules for kernel $KVER are on disk at $TREE: nothing to fetch, the kubelet may start"
		start_tag_check
		exit 0
	fi
	fetch="$(fetch_unit "$CFG_NAME")"
	if [[ "$state" == stale ]]; then
		log "the tree at $TREE was extracted from image '$(record_get "$TREE" image)'; the config now names '$CFG_IMAGE': fetching it"
	elif [[ "$state" == damaged ]]; then
		warn "the tree at $TREE is damaged ($(tree_why_damaged)): fetching it again"
		REPAIR=1
	fi

	mkdir -p "$DAY1KMOD_RUN_DIR"
	rm -f -- "$(gave_up_marker)"
	if [[ "$CFG_REBOOT_POLICY" == Never ]]; then
		# No reboot follows the fetch: holding the kubelet would gain nothing.
		PULL_RESULT=fetching
		status_set pull_result=fetching pull_reason="$fetch fetches image '$(resolve_image)'; rebootPolicy Never: the kubelet is not held, '$CFG_MODULE' is loaded at the next reboot someone else makes"
		log "starting $fetch; rebootPolicy Never: not holding the kubelet"
		systemctl start --no-block "$fetch" || die "could not start $fetch"
		exit 0
	fi

	PULL_RESULT=fetching
	status_set pull_result=fetching pull_reason="holding the kubelet at most ${CFG_MAX_KUBELET_DELAY}s while $fetch fetches image '$(resolve_image)'"
	log "no module tree for kernel $KVER: holding the kubelet at most ${CFG_MAX_KUBELET_DELAY}s while $fetch fetches image '$(resolve_image)'"
	systemctl start --no-block "$fetch" || die "could not start $fetch; the kubelet starts with the in-tree driver"

	while [[ "$(tree_state)" != current ]]; do
		result="$(status_get pull_result)"
		if [[ "$result" == unusable || "$result" == failed ||
			"$(systemctl is-active "$fetch" 2>/dev/null || true)" == failed ]]; then
			error "$fetch failed ($(status_get pull_reason)): not holding the kubelet any longer; the node keeps the in-tree driver"
			PULL_RESULT="${result:-failed}" # the fetch's own status stays
			exit 0
		fi
		if (($(now) >= DEADLINE)); then
			# The marker first, then a last look: the fetch looks for the
			# marker after its rename (fetch.sh, gate_holds).
			: >"$(gave_up_marker)"
			[[ "$(tree_state)" == current ]] && break
			give_up
			exit 0
		fi
		sleep "$GATE_POLL"
	done
	in_time
}

main "$@"
