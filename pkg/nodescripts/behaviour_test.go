package nodescripts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const iceRepo = "registry.example.com/acme/ice-kmod"

// scenarios are the node's life as DESIGN.md tells it ("What happens on a
// node"), each run on a fresh test node.
var scenarios = []struct {
	name string
	run  func(t *testing.T, n *node)
}{
	{"first boot without the image: load does nothing and succeeds", func(t *testing.T, n *node) {
		conf := n.config(iceConfig())
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "day1kmod[ice]: nothing on disk for kernel "+k1, n.state("ice", k1), "the gate (day1kmod-pull-ice.service) fetches image '"+iceRepo+":"+k1+"'")
		n.wantCalls(r, "modprobe")
		n.wantCalls(r, "modinfo")
		n.wantCalls(r, "podman")
		n.wantModule("ice", "in-tree")
	}},

	{"gate: the fetch finishes in time: extracted, one reboot before the kubelet", func(t *testing.T, n *node) {
		ref := iceRepo + ":" + k1
		n.addImage(ref, digestA, image{kernels: []string{k1}, symlinks: map[string]string{
			"opt/lib/modules/" + k1 + "/weak-updates/ice.ko": "../extra/ice.ko", // inside the tree: kept
		}})
		n.write(filepath.Join(n.root, "var/lib/kubelet/config.json"), "{}")
		conf := n.config(iceConfig())

		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "podman",
			"podman pull --authfile $ROOT/var/lib/kubelet/config.json "+ref,
			"podman image inspect --format {{.Digest}} "+ref,
			"podman image mount "+ref,
			"podman image unmount "+ref,
			"podman rmi "+ref)
		// The fetch sees the gate still holding the kubelet; no other gate
		// runs: no wait, the gate reboots.
		n.wantCalls(r, "systemctl", startFetch, gateHolds[0], gateHolds[1], gateHolds[2], listPulls, "systemctl reboot")
		// The index is always written again, with the host's modules, and
		// the module's symbols checked against the host kernel's symvers.
		if dep := r.of("depmod"); len(dep) != 1 || !strings.Contains(dep[0], " -e -E $ROOT/var/lib/day1kmod/ice/.tmp-"+k1+".") {
			t.Errorf("depmod calls: %q", dep)
		}
		if s := r.of("sync"); len(s) != 3 || !strings.HasPrefix(s[0], "sync -f $ROOT/var/lib/day1kmod/ice/.tmp-"+k1+".") ||
			s[1] != "sync -f $ROOT/var/lib/day1kmod/ice" || s[2] != s[1] {
			t.Errorf("want the temp tree synced before the renames, and each rename synced, got %q", s)
		}
		if l, err := os.Readlink(n.state("ice", k1)); err != nil || !strings.HasPrefix(l, ".tree-"+k1+".") {
			t.Errorf("%s -> %q (%v), want a link to the tree's own directory", n.state("ice", k1), l, err)
		}
		n.wantCalls(r, "sleep")
		n.wantReboots(1)
		tree := n.state("ice", k1)
		n.wantExists(filepath.Join(tree, "lib/modules", k1, "extra/ice.ko"), filepath.Join(tree, "lib/modules", k1, "modules.dep"))
		if l, err := os.Readlink(filepath.Join(tree, "usr/lib/modules")); err != nil || l != "../../lib/modules" {
			t.Errorf("usr/lib/modules -> %q (%v), want ../../lib/modules", l, err)
		}
		if l, err := os.Readlink(filepath.Join(tree, "lib/modules", k1, "weak-updates/ice.ko")); err != nil || l != "../extra/ice.ko" {
			t.Errorf("the image's symlink was not kept: %q (%v)", l, err)
		}
		if got, want := n.read(filepath.Join(tree, "record")), "# What day1kmod extracted into this directory.\n"+
			"name=ice\nimage="+iceRepo+":${KERNEL_FULL_VERSION}\nreference="+ref+"\ndigest="+digestA+"\ntag_digest="+digestA+"\nkernel="+k1+"\nmodule=ice\nfirmware_path=\n"; got != want {
			t.Errorf("record:\n%s\nwant:\n%s", got, want)
		}
		if len(n.temps("ice")) != 0 || len(n.stored()) != 0 {
			t.Errorf("left behind: temps %v, images %v", n.temps("ice"), n.stored())
		}
		n.wantModule("ice", "in-tree") // pull never loads: the reboot does

		// The unit started again on the same boot: nothing to do.
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "nothing to fetch")
		n.wantCalls(r, "podman")
		n.wantReboots(1)
	}},

	{"second boot: in-tree unloaded, out-of-tree loaded with its parameters", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice", "e1000e")
		tree := n.state("ice", k1)

		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "modprobe", "modprobe -r ice", "modprobe -d "+strings.ReplaceAll(tree, n.root, "$ROOT")+" ice debug=1 enable")
		n.wantCalls(r, "udevadm", "udevadm settle --timeout=60") // coldplug done before looking
		n.wantCalls(r, "podman")
		n.wantModule("ice", "oot 1.2.3-oot")
		n.wantModule("e1000e", "in-tree") // not in the list: untouched
		if n.sys("ice", "parameters/debug") != "1" || n.sys("ice", "parameters/enable") != "Y" {
			t.Errorf("parameters not passed: debug=%q enable=%q", n.sys("ice", "parameters/debug"), n.sys("ice", "parameters/enable"))
		}
		n.wantLog(r, "unloading in-tree module 'ice'", "loaded out-of-tree module 'ice' version '1.2.3-oot'")

		// Restarting the unit: the module is ours already.
		r = n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "already loaded")
		n.wantCalls(r, "modprobe")

		// Pull on the second boot: tree present, no pull, no reboot.
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "podman")
		n.wantReboots(1)
	}},

	{"SELinux enabled: the tree gets the label of /lib/modules before loading", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		tree := strings.ReplaceAll(n.state("ice", k1), n.root, "$ROOT")

		r := n.run("load.sh", conf) // no SELinux: no labelling
		n.wantCode(r, 0)
		n.wantCalls(r, "chcon")

		n.boot(k1, "ice")
		n.write(filepath.Join(n.root, "sys/fs/selinux/enforce"), "1")
		r = n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "chcon", "chcon -R -t modules_object_t "+tree+"/lib/modules")
		n.wantModule("ice", "oot 1.2.3-oot")
	}},

	{"installed under the node's names by Files: the scripts find their library", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		files, err := Files(iceConfig())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			p := filepath.Join(n.root, f.Path)
			n.write(p, string(f.Contents))
			if err := os.Chmod(p, os.FileMode(f.Mode)); err != nil {
				t.Fatal(err)
			}
		}
		conf := filepath.Join(n.root, ConfigPath("ice"))
		r := n.run(filepath.Join(n.root, PullPath("ice")), conf)
		n.wantCode(r, 0)
		n.wantReboots(1)
		n.boot(k1, "ice")
		r = n.run(filepath.Join(n.root, LoadPath("ice")), conf)
		n.wantCode(r, 0)
		n.wantModule("ice", "oot 1.2.3-oot")
	}},

	{"in-tree module not loaded: only the out-of-tree load", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf) // nothing loaded at boot
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "modprobe", "modprobe -d $ROOT/var/lib/day1kmod/ice/"+k1+" ice debug=1 enable")
		n.wantLog(r, "in-tree module 'ice' is not loaded")
		n.wantModule("ice", "oot 1.2.3-oot")
	}},

	{"no in-tree modules to remove, no parameters", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.InTreeModules, c.Parameters = nil, nil
		conf := n.config(c)
		n.pullAndBoot(conf, "irdma")
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "modprobe", "modprobe -d $ROOT/var/lib/day1kmod/ice/"+k1+" ice")
		n.wantCalls(r, "udevadm") // nothing to unload: no wait for udev
		n.wantModule("ice", "oot 1.2.3-oot")
		n.wantModule("irdma", "in-tree")
	}},

	{"out-of-tree load fails: in-tree modules reloaded, unit fails", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.InTreeModules = []string{"irdma", "ice"}
		conf := n.config(c)
		n.pullAndBoot(conf, "ice", "irdma")
		r := n.run("load.sh", conf, "FAKE_MODPROBE_FAIL=ice")
		n.wantCode(r, 1)
		n.wantCalls(r, "modprobe",
			"modprobe -r irdma",
			"modprobe -r ice",
			"modprobe -d $ROOT/var/lib/day1kmod/ice/"+k1+" ice debug=1 enable",
			"modprobe ice",
			"modprobe irdma")
		n.wantLog(r, "ERROR: failed to load out-of-tree module 'ice'", "reloaded in-tree modules: irdma ice")
		n.wantModule("ice", "in-tree")
		n.wantModule("irdma", "in-tree")
	}},

	{"in-tree unload fails: the ones removed are reloaded, nothing loaded, unit fails", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.InTreeModules = []string{"irdma", "ice"}
		conf := n.config(c)
		n.pullAndBoot(conf, "ice", "irdma")
		r := n.run("load.sh", conf, "FAKE_UNLOAD_FAIL=ice")
		n.wantCode(r, 1)
		n.wantCalls(r, "modprobe", "modprobe -r irdma", "modprobe -r ice", "modprobe irdma")
		n.wantLog(r, "could not unload in-tree module 'ice'", "not loading out-of-tree module 'ice'")
		n.wantModule("ice", "in-tree")
		n.wantModule("irdma", "in-tree")
	}},

	{"vermagic mismatch: nothing unloaded, unit fails naming both kernels", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		// The tree on disk holds a module built for another kernel.
		n.write(filepath.Join(n.state("ice", k1), "lib/modules", k1, "extra/ice.ko"),
			"vermagic=5.14.0-1.el9.x86_64 SMP mod_unload\nversion=1.2.3-oot\nsrcversion=X\n")
		n.reManifest(n.state("ice", k1))
		r := n.run("load.sh", conf, "JOURNAL_STREAM=8:1234")
		n.wantCode(r, 1)
		n.wantLog(r, "built for kernel '5.14.0-1.el9.x86_64' but the running kernel is '"+k1+"'", "nothing was unloaded")
		// Under systemd the journal gets the error priority.
		n.wantLog(r, "\n<3>day1kmod[ice]: ERROR: not loading 'ice'")
		n.wantCalls(r, "modprobe")
		n.wantModule("ice", "in-tree")
	}},

	{"module missing from the tree: nothing unloaded, unit fails", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		if err := os.Remove(filepath.Join(n.state("ice", k1), "lib/modules", k1, "extra/ice.ko")); err != nil {
			t.Fatal(err)
		}
		n.reManifest(n.state("ice", k1))
		r := n.run("load.sh", conf)
		n.wantCode(r, 1)
		n.wantLog(r, "module 'ice' is not in "+n.state("ice", k1), "nothing was unloaded")
		n.wantCalls(r, "modprobe")
		n.wantModule("ice", "in-tree")
	}},

	{"a module of the same name stays loaded: unit fails", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.InTreeModules = nil // forgot to list the in-tree ice
		conf := n.config(c)
		n.pullAndBoot(conf, "ice")
		r := n.run("load.sh", conf)
		n.wantCode(r, 1)
		n.wantLog(r, "another module of that name is loaded", "no in-tree module had been unloaded")
		n.wantModule("ice", "in-tree")
	}},

	{"registry reachable after two failures: pulled within the bound, one reboot", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		r := n.run("pull.sh", conf, "FAKE_PULL_FAILS=2")
		n.wantCode(r, 0)
		n.wantCalls(r, "sleep", "sleep 5", "sleep 10")
		if got := len(r.of("podman pull")); got != 3 {
			t.Errorf("%d pull attempts, want 3", got)
		}
		n.wantReboots(1)
	}},

	{"image removal fails: only a warning, the tree is used and the node reboots", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		r := n.run("pull.sh", conf, "FAKE_RMI_FAIL=1")
		n.wantCode(r, 0)
		n.wantLog(r, "warning: could not remove image '"+iceRepo+":"+k1+"'")
		n.wantCalls(r, "podman rmi", "podman rmi "+iceRepo+":"+k1)
		n.wantReboots(1)
		n.wantExists(n.state("ice", k1, "record"))
	}},

	{"fetch killed mid-extract: the half tree is never used, the next run recovers", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		r := n.run("fetch.sh", conf, "FAKE_CP_KILL=1")
		if !r.killed {
			t.Fatalf("pull was not killed: exit %d\n%s", r.code, r.stderr)
		}
		n.wantAbsent(n.state("ice", k1))
		if len(n.temps("ice")) != 1 {
			t.Fatalf("want the interrupted temp tree, got %v", n.temps("ice"))
		}
		n.wantReboots(0)

		// Power loss: the next boot's load finds nothing and leaves in-tree.
		n.boot(k1, "ice")
		r = n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "nothing on disk")
		n.wantCalls(r, "modprobe")

		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "left by an interrupted run")
		n.wantReboots(1)
		if len(n.temps("ice")) != 0 {
			t.Errorf("temps left: %v", n.temps("ice"))
		}
		n.boot(k1, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 1.2.3-oot")
	}},

	{"leftover temp dir from an interrupted run is ignored, then removed", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		stale := n.state("ice", ".tmp-"+k1+".Ab12Cd")
		n.writeModule(filepath.Join(stale, "lib/modules", k1), "extra/ice.ko", moduleFile{vermagic: k1, version: "half", srcversion: "HALF"})
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "nothing on disk")
		n.wantCalls(r, "modprobe")
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantAbsent(stale)
		n.wantReboots(1)
	}},

	{"kernel upgrade: the new kernel's tag is pulled, one reboot per kernel", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.addImage(iceRepo+":"+k2, digestB, image{kernels: []string{k2}, version: "1.2.3-oot-k2"})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 1.2.3-oot")

		// The OS update boots k2: boot 1 again for it.
		n.boot(k2, "ice")
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "nothing on disk for kernel "+k2)
		n.wantModule("ice", "in-tree")
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "podman pull", "podman pull "+iceRepo+":"+k2)
		n.wantReboots(2)
		n.boot(k2, "ice")
		r = n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "modprobe", "modprobe -r ice", "modprobe -d $ROOT/var/lib/day1kmod/ice/"+k2+" ice debug=1 enable")
		n.wantModule("ice", "oot 1.2.3-oot-k2")
		n.wantExists(n.state("ice", k1), n.state("ice", k2))
	}},

	{"same kernel and digest pulled again after the reboot: no second reboot", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		// The tree vanished (someone cleaned /var/lib): pulled again...
		if err := os.RemoveAll(n.state("ice", k1)); err != nil {
			t.Fatal(err)
		}
		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "podman pull", "podman pull "+iceRepo+":"+k1)
		n.wantLog(r, "not rebooting again")
		n.wantCalls(r, "systemctl reboot")
		n.wantReboots(1)
		n.wantStatus("ice", map[string]string{"pull_result": "staged", "reboot_pending": "yes"})
		n.wantExists(n.state("ice", k1, "record"), n.state("ice", "rebooted-"+k1+"-sha256_"+strings.Repeat("a", 64)))
	}},

	{"image references: placeholder, fixed tag, digest", func(t *testing.T, n *node) {
		digestRef := iceRepo + "@" + digestB
		for _, tc := range []struct{ image, pulled string }{
			{iceRepo + ":v1-" + KernelVersionPlaceholder, iceRepo + ":v1-" + k1},
			{iceRepo + ":1.2.3", iceRepo + ":1.2.3"},
			{digestRef, digestRef},
			{"registry.example.com:5000/ice:" + KernelVersionPlaceholder, "registry.example.com:5000/ice:" + k1},
		} {
			n.addImage(tc.pulled, digestA, image{kernels: []string{k1}})
			c := iceConfig()
			c.Image = tc.image
			conf := n.config(c)
			if err := os.RemoveAll(n.state("ice")); err != nil {
				t.Fatal(err)
			}
			r := n.run("pull.sh", conf)
			n.wantCode(r, 0)
			// No pull secret on this node: no --authfile.
			n.wantCalls(r, "podman pull", "podman pull "+tc.pulled)
			rec := n.read(n.state("ice", k1, "record"))
			if !strings.Contains(rec, "\nimage="+tc.image+"\n") || !strings.Contains(rec, "\nreference="+tc.pulled+"\n") {
				t.Errorf("record for %s:\n%s", tc.image, rec)
			}
		}
	}},

	{"image without a module index: depmod -b on the temp tree", func(t *testing.T, n *node) {
		for _, img := range []image{{kernels: []string{k1}, noDep: true}, {kernels: []string{k1}, noDepBin: true}} {
			if err := os.RemoveAll(n.state("ice")); err != nil {
				t.Fatal(err)
			}
			n.addImage(iceRepo+":"+k1, digestA, img)
			conf := n.config(iceConfig())
			r := n.run("pull.sh", conf)
			n.wantCode(r, 0)
			dep := r.of("depmod")
			if len(dep) != 1 || !strings.HasPrefix(dep[0], "depmod -b $ROOT/var/lib/day1kmod/ice/.tmp-"+k1+".") || !strings.HasSuffix(dep[0], " "+k1) {
				t.Errorf("depmod calls: %q", dep)
			}
			n.wantExists(n.state("ice", k1, "lib/modules", k1, "modules.dep"), n.state("ice", k1, "lib/modules", k1, "modules.dep.bin"))
			n.boot(k1, "ice")
			n.wantCode(n.run("load.sh", conf), 0)
			n.wantModule("ice", "oot 1.2.3-oot")
		}
	}},

	{"image without the module for the running kernel: fails, no reboot, cleaned up", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k2}}) // wrong content under the k1 tag
		n.addImage(iceRepo+":fw", digestA, image{kernels: []string{k1}})
		n.addImage(iceRepo+":other", digestA, image{kernels: []string{k1}, module: "i40e"})
		n.addImage(iceRepo+":vermagic", digestA, image{kernels: []string{k1}, vermagicOf: map[string]string{k1: k2}})
		for _, tc := range []struct {
			tag, firmware, why string
		}{
			{KernelVersionPlaceholder, "", "has no /opt/lib/modules/" + k1 + " for the running kernel (it has: " + k2 + " )"},
			{"other", "", "has no module 'ice' in /opt/lib/modules/" + k1},
			{"fw", "/firmware", "has no firmware directory '/firmware'"},
			{"vermagic", "", "built for kernel '" + k2 + "' but the running kernel is '" + k1 + "'"},
		} {
			c := iceConfig()
			c.Image = iceRepo + ":" + tc.tag
			c.FirmwarePath = tc.firmware
			conf := n.config(c)
			r := n.run("fetch.sh", conf)
			n.wantCode(r, FetchExitImageUnusable) // no retry can help
			n.wantLog(r, tc.why, "not retrying, not rebooting")
			n.wantCalls(r, "sleep")
			n.wantStatus("ice", map[string]string{"pull_result": "unusable"})
			if len(r.of("podman image unmount")) != 1 || len(r.of("podman rmi")) != 1 {
				t.Errorf("%s: image not unmounted and removed: %q", tc.tag, r.of("podman"))
			}
			n.wantReboots(0)
			n.wantAbsent(n.state("ice", k1))
			if len(n.temps("ice")) != 0 || len(n.stored()) != 0 {
				t.Errorf("%s: left behind: temps %v, images %v", tc.tag, n.temps("ice"), n.stored())
			}
		}
	}},

	{"firmware: extracted, installed in day1kmod's own firmware directory, which the kernel's search path is set to", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}, firmware: map[string]string{
			"firmware/intel/ice/ddp/ice.pkg": "DDP", "firmware/intel/ice/README": "x",
		}})
		c := iceConfig()
		c.FirmwarePath = "/firmware"
		conf := n.config(c)
		n.pullAndBoot(conf, "ice")
		n.wantExists(n.state("ice", k1, "firmware/intel/ice/ddp/ice.pkg"))
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		if got := n.read(filepath.Join(n.root, "sys/module/firmware_class/parameters/path")); got != FirmwareDir {
			t.Errorf("firmware_class path = %q", got)
		}
		if got := n.read(filepath.Join(n.root, FirmwareDir, "intel/ice/ddp/ice.pkg")); got != "DDP" {
			t.Errorf("firmware file = %q", got)
		}
		if got := n.read(n.state("ice", "firmware.list")); got != "intel/ice/README\nintel/ice/ddp/ice.pkg\n" {
			t.Errorf("firmware.list = %q", got)
		}
		n.wantModule("ice", "oot 1.2.3-oot")

		// Another boot where the path is already set by someone else: day1kmod
		// does not write into another's directory, and keeps the in-tree driver.
		n.boot(k1, "ice")
		n.write(filepath.Join(n.root, "sys/module/firmware_class/parameters/path"), "/var/custom-fw\n")
		r = n.run("load.sh", conf)
		n.wantCode(r, 1)
		n.wantLog(r, "firmware_class.path) is set to '/var/custom-fw' by someone else", "nothing was unloaded")
		n.wantAbsent(filepath.Join(n.root, "var/custom-fw"))
		n.wantModule("ice", "in-tree")
		if got := n.read(filepath.Join(n.root, "sys/module/firmware_class/parameters/path")); got != "/var/custom-fw\n" {
			t.Errorf("firmware_class path changed to %q", got)
		}
	}},

	{"cluster proxy from proxy.env is used for the pull, never executed", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		pwned := filepath.Join(n.root, "pwned")
		n.write(filepath.Join(n.root, "etc/mco/proxy.env"), "# cluster proxy\n"+
			"HTTP_PROXY=http://proxy.example:3128\n"+
			"HTTPS_PROXY=\"http://proxy.example:3129\"\n"+
			"NO_PROXY='.cluster.local,10.0.0.0/8'\n"+
			"EVIL=$(touch "+pwned+")\n"+
			"$(touch "+pwned+")\n")
		conf := n.config(iceConfig())
		n.wantCode(n.run("pull.sh", conf), 0)
		got := n.read(filepath.Join(n.fake, "pull-env"))
		want := "HTTPS_PROXY=http://proxy.example:3129\nHTTP_PROXY=http://proxy.example:3128\nNO_PROXY=.cluster.local,10.0.0.0/8\n" +
			"http_proxy=http://proxy.example:3128\nhttps_proxy=http://proxy.example:3129\nno_proxy=.cluster.local,10.0.0.0/8\n"
		if got != want {
			t.Errorf("pull environment:\n%s\nwant:\n%s", got, want)
		}
		n.wantAbsent(pwned)
	}},

	{"another module's gate still waiting for its fetch: one reboot after it, bounded wait", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		// Our own unit is activating too: it is never waited for.
		n.write(filepath.Join(n.fake, "activating"), PullUnit("ice")+"\n"+PullUnit("e1000e-oot")+"\n")
		n.write(filepath.Join(n.fake, "activating-polls"), "2")
		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "waiting for "+PullUnit("e1000e-oot")+" to finish")
		n.wantCalls(r, "sleep", "sleep 5", "sleep 5")
		n.wantCalls(r, "systemctl list-units", listPulls, listPulls, listPulls)
		n.wantCalls(r, "systemctl reboot", "systemctl reboot")
		n.wantReboots(1)

		// Two pulls done at once must not wait for each other: one that
		// only waits to reboot does not count.
		const k3 = "5.14.0-427.13.1.el9_4.x86_64"
		n.boot(k3)
		n.addImage(iceRepo+":"+k3, digestA, image{kernels: []string{k3}})
		n.write(filepath.Join(n.root, "run/day1kmod/e1000e-oot.reboot-pending"), "")
		n.write(filepath.Join(n.fake, "activating-polls"), "1000")
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "sleep")
		n.wantReboots(2)
		n.wantExists(filepath.Join(n.root, "run/day1kmod/ice.reboot-pending"))
		if err := os.RemoveAll(filepath.Join(n.root, "run")); err != nil { // the reboot empties /run
			t.Fatal(err)
		}

		// A gate that never finishes holds the reboot back until this
		// gate's own bound (max_kubelet_delay, 300 s by default) at most.
		n.boot(k2)
		n.addImage(iceRepo+":"+k2, digestA, image{kernels: []string{k2}})
		n.write(filepath.Join(n.fake, "activating-polls"), "1000")
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "rebooting anyway")
		if got := len(r.of("sleep")); got != 60 {
			t.Errorf("slept %d times, want 300 s in 5 s steps", got)
		}
		n.wantReboots(3)
	}},

	{"two modules side by side do not touch each other", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.addImage("registry.example.com/acme/e1000e:"+k1, digestB, image{kernels: []string{k1}, module: "e1000e", version: "9.9"})
		ice := n.config(iceConfig())
		e1000e := n.config(Config{Name: "e1000e-oot", Image: "registry.example.com/acme/e1000e:" + KernelVersionPlaceholder,
			Module: "e1000e", InTreeModules: []string{"e1000e"}})
		// e1000e's fetch is interrupted; ice's run must leave its temp alone.
		r := n.run("fetch.sh", e1000e, "FAKE_CP_KILL=1")
		if !r.killed {
			t.Fatalf("not killed: %d", r.code)
		}
		eTemps := n.temps("e1000e-oot")
		n.pullAndBoot(ice, "ice", "e1000e")
		if got := n.temps("e1000e-oot"); strings.Join(got, " ") != strings.Join(eTemps, " ") || len(got) != 1 {
			t.Errorf("ice's pull touched e1000e's temps: %v -> %v", eTemps, got)
		}
		n.wantCode(n.run("load.sh", ice), 0)
		n.wantModule("ice", "oot 1.2.3-oot")
		n.wantModule("e1000e", "in-tree")
		r = n.run("load.sh", e1000e)
		n.wantCode(r, 0)
		n.wantLog(r, "day1kmod[e1000e-oot]: nothing on disk")

		n.pullAndBoot(e1000e, "ice", "e1000e")
		n.wantReboots(2) // one per module
		for _, conf := range []string{ice, e1000e} {
			n.wantCode(n.run("load.sh", conf), 0)
		}
		n.wantModule("ice", "oot 1.2.3-oot")
		n.wantModule("e1000e", "oot 9.9")
		n.wantExists(n.state("ice", k1, "lib/modules", k1, "extra/ice.ko"), n.state("e1000e-oot", k1, "lib/modules", k1, "extra/e1000e.ko"))
		n.wantAbsent(n.state("ice", k1, "lib/modules", k1, "extra/e1000e.ko"))
	}},

	{"config changed to another image: the old tree is not loaded, pull replaces it", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.addImage(iceRepo+":2.0", digestB, image{kernels: []string{k1}, version: "2.0"})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		c := iceConfig()
		c.Image = iceRepo + ":2.0"
		conf = n.config(c)
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "nothing on disk for this config", "the gate (day1kmod-pull-ice.service) fetches it")
		n.wantCalls(r, "modprobe")
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "podman pull", "podman pull "+iceRepo+":2.0")
		n.wantReboots(2)
		n.boot(k1, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 2.0")
		if len(n.temps("ice")) != 0 {
			t.Errorf("temps left: %v", n.temps("ice"))
		}
	}},

	{"config values are data: a value of the wrong shape is refused, nothing is run", func(t *testing.T, n *node) {
		pwned := filepath.Join(n.root, "pwned")
		conf := filepath.Join(n.root, "etc/day1kmod/evil.conf")
		for _, bad := range []string{
			"format=1\nname=x\nimage=registry.example.com/a/b:$(touch " + pwned + ")\nmodule=ice\n",
			"format=1\nname=x\nimage=registry.example.com/a/b:${HOME}\nmodule=ice\n",
			"format=1\nname=x\nimage=\nmodule=ice\n",
			"format=1\nname=x\nimage=a\nmodule=ice;touch " + pwned + "\n",
			"format=1\nname=../x\nimage=a\nmodule=ice\n",
			"format=1\nname=x\nimage=a\nmodule=ice\nmodule_parameters=a=`id`\n",
			"format=1\nname=x\nimage=a\nmodule=ice\nfirmware_path=/a/../../etc\n",
			"format=2\nname=x\nimage=a\nmodule=ice\n",
			"name=x\nimage=a\nmodule=ice\njunk\n",
		} {
			n.write(conf, bad)
			for _, s := range []string{"load.sh", "pull.sh", "fetch.sh"} {
				r := n.run(s, conf)
				n.wantCode(r, 1)
				if len(r.calls) != 0 {
					t.Errorf("%s ran commands on a bad config: %q", s, r.calls)
				}
			}
		}
		n.wantAbsent(pwned)
	}},
}

// How the scripts ask systemd: for other gates still running, to start the
// fetch, and (the fetch) whether the gate still holds the kubelet.
const (
	listPulls  = "systemctl list-units --no-legend --plain --state=activating day1kmod-pull-*.service"
	startFetch = "systemctl start --no-block day1kmod-fetch-ice.service"
)

var gateHolds = []string{
	"systemctl is-active day1kmod-pull-ice.service",
	"systemctl show -P ActiveEnterTimestampMonotonic kubelet.service",
	"systemctl is-active kubelet.service",
}

func TestNodeScenarios(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Fatal("bash is required")
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, newNode(t, k1, "ice")) // the in-tree driver is up at boot
		})
	}
}
