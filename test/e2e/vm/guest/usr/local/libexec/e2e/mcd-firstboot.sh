#!/bin/sh
# The stand-in MCD firstboot: the real one rebases the OS to the osImageURL of
# the encapsulated MachineConfig (usually another kernel), staged, removes the
# file and reboots into it. The stand-in's osImageURL is "e2e:KERNEL".
set -eu
encapsulated=/etc/ignition-machine-config-encapsulated.json
os=$(sed -n 's/.*"osImageURL": *"\([^"]*\)".*/\1/p' "$encapsulated")
echo "e2e: MCD firstboot: rebasing the OS to ${os:-none} (stand-in: 5 s)"
sleep 5
if [ -n "$os" ]; then
	ostree admin deploy --stage "$os"
fi
rm -f "$encapsulated"
echo "e2e: MCD firstboot: rebase done, rebooting"
systemctl reboot
