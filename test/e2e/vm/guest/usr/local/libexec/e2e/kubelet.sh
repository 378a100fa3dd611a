#!/bin/sh
# The stand-in kubelet: says when it starts (monotonic, as the journal) and
# which dummy module runs at that moment.
set -eu
up=$(cut -d' ' -f1 /proc/uptime)
if [ -r /sys/module/dummy/version ]; then
	dummy="oot version=$(cat /sys/module/dummy/version)"
elif grep -q '^dummy ' /proc/modules; then
	dummy=in-tree
else
	dummy=absent
fi
echo "e2e: kubelet starts at ${up} s; dummy: $dummy"
echo "E2E kubelet=$up dummy=$dummy" >/dev/ttyS1
