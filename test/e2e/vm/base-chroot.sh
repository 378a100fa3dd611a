#!/bin/sh
# Runs inside the base root file system while it is built (mmdebstrap hook):
# builds the out-of-tree test modules against the pinned kernel's headers,
# lays them out as kernel module images must be laid out
# (/opt/lib/modules/<kernel>/...), then removes the compiler and headers again:
# a node has no compiler.
set -eu
KVER=$1
cd /tmp/e2e

# build NAME VARIANT CFLAGS: one module from kmod/oot.c into build/VARIANT/NAME.ko
build() {
	mkdir -p "build/$2"
	cp kmod/oot.c kmod/Kbuild "build/$2/"
	make -s -C "/lib/modules/$KVER/build" M="/tmp/e2e/build/$2" E2E_MODNAME="$1" E2E_CFLAGS="$3" modules
}
build dummy ok ""
build dummy fail "-DDAY1KMOD_E2E_FAIL"
build e2e_twin twin ""

# image IMAGE KERNEL MODULE DEPMOD: the file tree of one kernel module image
image() {
	tree="out/images/$1/opt/lib/modules/$2"
	mkdir -p "$tree/extra"
	cp "$3" "$tree/extra/"
	if [ "$4" = depmod ]; then
		depmod -b "out/images/$1/opt" "$2"
	fi
}
image dummy "$KVER" build/ok/dummy.ko depmod
image dummy-fail "$KVER" build/fail/dummy.ko depmod
# No modules.dep: the node must run depmod -b itself.
image twin "$KVER" build/twin/e2e_twin.ko no-depmod
# Modules for some other kernel only, none for the running one.
image wrong-kernel 6.1.0-0-other-amd64 build/ok/dummy.ko depmod
echo "$KVER" >out/kver

export DEBIAN_FRONTEND=noninteractive
apt-get purge -y -q gcc make libc6-dev "linux-headers-$KVER" >/dev/null
apt-get autoremove --purge -y -q >/dev/null
apt-get clean
