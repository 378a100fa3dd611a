#!/bin/bash
# Stand-in for the machine-config daemon applying an update: once the boot is
# done and reported, the probe runs it when the harness left actions for this
# boot in /var/lib/e2e/mcd-update.N (N: the boot's number), one per line:
#   kernel K          stage a deployment with kernel K (the MCD's OS update,
#                     through ostree, staged: finalized at shutdown)
#   image N IMAGE     the new MachineConfig changes N's image: the MCD writes
#                     /etc/day1kmod/N.conf as it writes files (a temporary file
#                     renamed over it; no daemon-reload)
#   stop-registry     the registry goes away before the reboot
# then reboots as the MCD does. The file is removed first: it happens once.
set -euo pipefail
actions=/var/lib/e2e/mcd-update.$(cat /var/lib/e2e/boots)
[[ -f $actions ]] || exit 0
mv "$actions" "$actions.done"
what=()
while read -r action a b; do
	case $action in
	kernel)
		echo "e2e: MCD update: staging the OS with kernel $a"
		ostree admin deploy --stage "e2e:$a"
		what+=("kernel $a")
		;;
	image)
		conf=/etc/day1kmod/$a.conf
		[[ -f $conf ]] || { echo "e2e: MCD update: no $conf" >&2; exit 1; }
		echo "e2e: MCD update: writing $conf: image=$b"
		sed "s|^image=.*|image=$b|" "$conf" >"$conf.mcdtmp"
		chmod 0644 "$conf.mcdtmp"
		mv "$conf.mcdtmp" "$conf"
		what+=("image of $a")
		;;
	stop-registry)
		echo "e2e: MCD update: stopping the registry"
		systemctl stop e2e-registry.service
		what+=("registry stopped")
		;;
	'') ;;
	*)
		echo "e2e: MCD update: unknown action '$action'" >&2
		exit 1
		;;
	esac
done <"$actions.done"
sync
echo "e2e: MCD update: rebooting (${what[*]})"
systemd-run --unit machine-config-daemon-reboot --description "machine-config-daemon: Node will reboot into the new config (${what[*]})" /bin/sh -c "systemctl reboot"
