#!/bin/sh
# Runs inside the base root file system while it is built (mmdebstrap hook):
# builds the out-of-tree test modules against the headers of both guest
# kernels, lays them out as kernel module images must be laid out
# (/opt/lib/modules/<kernel>/...), then removes the compiler and headers again:
# a node has no compiler.
#
# Usage: base-chroot.sh KERNEL KERNEL2
set -eu
KVER=$1
KVER2=$2
cd /tmp/e2e

# build KERNEL NAME VARIANT CFLAGS: one module from kmod/oot.c into build/KERNEL/VARIANT/NAME.ko
build() {
	dir="/tmp/e2e/build/$1/$3"
	mkdir -p "$dir"
	cp kmod/oot.c kmod/Kbuild "$dir/"
	make -s -C "/lib/modules/$1/build" M="$dir" E2E_MODNAME="$2" E2E_CFLAGS="$4" modules
}
for k in "$KVER" "$KVER2"; do
	build "$k" dummy ok ""
done
build "$KVER" dummy fail "-DDAY1KMOD_E2E_FAIL"
build "$KVER" dummy block "-DDAY1KMOD_E2E_BLOCK"
build "$KVER" e2e_twin twin ""
build "$KVER" e2e_fw firmware "-DDAY1KMOD_E2E_FIRMWARE"

# image IMAGE KERNEL MODULE DEPMOD: adds the modules of KERNEL to the file
# tree of one kernel module image
image() {
	tree="out/images/$1/opt/lib/modules/$2"
	mkdir -p "$tree/extra"
	cp "$3" "$tree/extra/"
	if [ "$4" = depmod ]; then
		depmod -b "out/images/$1/opt" "$2"
	fi
}
# One image for both kernels, as for a node pool during a kernel upgrade.
image dummy "$KVER" "build/$KVER/ok/dummy.ko" depmod
image dummy "$KVER2" "build/$KVER2/ok/dummy.ko" depmod
image dummy-fail "$KVER" "build/$KVER/fail/dummy.ko" depmod
image dummy-block "$KVER" "build/$KVER/block/dummy.ko" depmod
# No modules.dep: the node must run depmod -b itself.
image twin "$KVER" "build/$KVER/twin/e2e_twin.ko" no-depmod
# Needs crc_itu_t from the host's crc-itu-t.ko, which the image does not
# carry; its firmware file is added by run.sh. No modules.dep: the node's
# depmod resolves the dependency through the host's modules.
image fw "$KVER" "build/$KVER/firmware/e2e_fw.ko" no-depmod
# Modules for some other kernel only, none for the running one.
image wrong-kernel 6.1.0-0-other-amd64 "build/$KVER/ok/dummy.ko" depmod

# The kernels' symbol lists, where RHCOS ships them (Debian's own System.map
# is a placeholder): the fetch checks against them that the host provides
# every symbol an image's module needs.
for k in "$KVER" "$KVER2"; do
	gzip -9c "/usr/src/linux-headers-$k/Module.symvers" >"/lib/modules/$k/symvers.gz"
done

export DEBIAN_FRONTEND=noninteractive
apt-get purge -y -q gcc make libc6-dev "linux-headers-$KVER" "linux-headers-$KVER2" >/dev/null
apt-get autoremove --purge -y -q >/dev/null
apt-get clean
