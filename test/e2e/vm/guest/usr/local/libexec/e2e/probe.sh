#!/bin/bash
# Runs once the boot is over: writes what the host asserts on to the results
# port (ttyS1) as "E2E key=value" lines, then the journal of every boot so far,
# then powers off, or, when the harness left stand-in MCD actions for this
# boot, has the stand-in MCD apply them and reboot (mcd-update.sh). When a
# reboot or shutdown is already under way (the pull unit rebooted), it
# reports nothing and applies nothing: the next boot's journal tells.
set -u
out=/dev/ttyS1

state=$(systemctl is-system-running --wait)
# A day1kmod unit may still run when it is not part of the boot transaction:
# the fetch unit (Type=exec, so "active" while it runs) goes on in the
# background once the gate let the kubelet start.
for _ in $(seq 600); do
	{
		systemctl list-units --state=activating --plain --no-legend 'day1kmod-*'
		systemctl list-units --state=active --plain --no-legend 'day1kmod-fetch-*'
	} | grep -q . || break
	sleep 1
done
sleep 2
if systemctl list-jobs --plain --no-legend | grep -Eq '(reboot|poweroff|halt|shutdown)\.target'; then
	echo "e2e: shutdown under way, not reporting"
	exit 0
fi
state=$(systemctl is-system-running)

module() {
	local m=$1 version=- tag=-
	if [[ -d /sys/module/$m ]] && grep -q "^$m " /proc/modules; then
		[[ -r /sys/module/$m/version ]] && version=$(cat "/sys/module/$m/version")
		[[ -r /sys/module/$m/parameters/tag ]] && tag=$(cat "/sys/module/$m/parameters/tag")
		echo "E2E module.$m=loaded version=$version tag=$tag"
	else
		echo "E2E module.$m=absent"
	fi
}

# status: each day1kmod status file as "E2E status.N.KEY=value" lines.
status() {
	local f n line
	for f in /run/day1kmod/*.status; do
		[[ -e $f ]] || continue
		n=$(basename "$f" .status)
		while IFS= read -r line; do
			[[ $line == *=* && $line != \#* ]] && echo "E2E status.$n.$line"
		done <"$f"
	done
}

{
	echo "E2E boot=$(cat /var/lib/e2e/boots)"
	echo "E2E kernel=$(uname -r)"
	echo "E2E state=$state"
	echo "E2E failed=$(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | xargs)"
	module dummy
	module e2e_twin
	module e2e_fw
	# What the firmware module read at init, and who uses whom.
	for p in fw_size fw_crc; do
		[[ -r /sys/module/e2e_fw/parameters/$p ]] && echo "E2E param.e2e_fw.$p=$(cat "/sys/module/e2e_fw/parameters/$p")"
	done
	echo "E2E firmware_class.path=$(cat /sys/module/firmware_class/parameters/path)"
	for m in e2e_fw crc_itu_t; do
		# /proc/modules: name size refcount used-by state address
		echo "E2E proc-modules.$m=$(awk -v m="$m" '$1 == m { print $3, $4, $5 }' /proc/modules)"
	done
	for unit in $(systemctl list-units --all --plain --no-legend 'day1kmod-*' | awk '{print $1}'); do
		echo "E2E unit.$unit=$(systemctl show -P ActiveState "$unit") result=$(systemctl show -P Result "$unit") status=$(systemctl show -P ExecMainStatus "$unit")"
	done
	echo "E2E links=$(ip -o link show | awk -F': ' '{print $2}' | xargs)"
	status
	# What the stand-in ostree says the next boot runs (deployment lines only).
	echo "E2E ostree-status=$(/usr/local/bin/ostree admin status 2>&1 | grep -v '^    ' | xargs)"
	echo "E2E var-lib-day1kmod=$(find /var/lib/day1kmod -maxdepth 3 -print0 2>/dev/null | xargs -0)"
	echo "E2E-JOURNAL-BEGIN"
	journalctl -o short-monotonic --no-hostname --no-pager
	echo "E2E-JOURNAL-END"
} >"$out" 2>&1
sync
if [[ -f /var/lib/e2e/mcd-update.$(cat /var/lib/e2e/boots) ]]; then
	/usr/local/libexec/e2e/mcd-update.sh
	exit
fi
echo "e2e: probe: powering off"
systemctl --no-block poweroff
