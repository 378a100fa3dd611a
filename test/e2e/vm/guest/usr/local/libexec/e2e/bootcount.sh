#!/bin/sh
# Increments the guest's boot counter and reports it on the results port.
set -eu
mkdir -p /var/lib/e2e
n=$(($(cat /var/lib/e2e/boots 2>/dev/null || echo 0) + 1))
echo "$n" >/var/lib/e2e/boots
echo "e2e: boot $n"
echo "E2E boot=$n" >/dev/ttyS1
