#!/bin/sh
# The stand-in MCD firstboot: the real one pulls the cluster's OS image,
# rebases to it (usually another kernel) and reboots into it.
set -eu
echo "e2e: MCD firstboot: rebasing the OS (stand-in: 5 s)"
sleep 5
rm -f /etc/ignition-machine-config-encapsulated.json
echo "e2e: MCD firstboot: rebase done, rebooting"
systemctl reboot
