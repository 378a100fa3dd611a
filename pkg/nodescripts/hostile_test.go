package nodescripts

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Hostile images and unlucky nodes: what the scripts refuse, and that a
// refusal touches nothing outside day1kmod's state and keeps the in-tree
// driver. Each runs on a fresh test node whose in-tree ice driver is up.
var hostile = []struct {
	name string
	run  func(t *testing.T, n *node)
}{
	{"extraction refuses what leaves the tree or is not a file: path named, unusable, nothing kept", func(t *testing.T, n *node) {
		mods := "opt/lib/modules/" + k1
		cases := []struct {
			tag   string
			setup func(root string)
			why   string
		}{
			{"ko-to-shadow", func(root string) {
				must(t, os.Remove(filepath.Join(root, mods, "extra/ice.ko")))
				must(t, os.Symlink("/etc/shadow", filepath.Join(root, mods, "extra/ice.ko")))
			}, "/" + mods + "/extra/ice.ko -> /etc/shadow (absolute: the tree moves on the node)"},
			{"host-link", func(root string) {
				must(t, os.Symlink("/lib/modules/"+k1, filepath.Join(root, mods, "host")))
			}, "/" + mods + "/host -> /lib/modules/" + k1 + " (absolute"},
			{"climbs-out", func(root string) {
				must(t, os.Symlink("../../../../etc", filepath.Join(root, mods, "extra/etc")))
			}, "/" + mods + "/extra/etc -> ../../../../etc (points outside the tree)"},
			{"chain-out", func(root string) {
				// Each link alone stays inside; followed, b leaves.
				must(t, os.MkdirAll(filepath.Join(root, mods, "a"), 0o755))
				must(t, os.Symlink("..", filepath.Join(root, mods, "a/up")))
				must(t, os.Symlink("a/up/..", filepath.Join(root, mods, "b")))
			}, "/" + mods + "/b -> a/up/.. (resolves outside the tree through another symlink)"},
			{"fifo", func(root string) {
				must(t, syscall.Mkfifo(filepath.Join(root, mods, "extra/pipe"), 0o644))
			}, "/" + mods + "/extra/pipe (a FIFO)"},
			{"socket", func(root string) {
				// A socket's path is short: bound elsewhere, then moved in.
				short, err := os.MkdirTemp("", "sock")
				must(t, err)
				t.Cleanup(func() { os.RemoveAll(short) })
				l, err := net.Listen("unix", filepath.Join(short, "s"))
				must(t, err)
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				t.Cleanup(func() { l.Close() })
				must(t, os.Rename(filepath.Join(short, "s"), filepath.Join(root, mods, "s")))
			}, "/" + mods + "/s (a socket)"},
			{"kernel-dir-link", func(root string) {
				must(t, os.Rename(filepath.Join(root, mods), filepath.Join(root, "opt/lib/modules/real")))
				must(t, os.Symlink("real", filepath.Join(root, mods)))
			}, "/opt/lib/modules/" + k1 + " -> real is a symlink: the modules for kernel " + k1 + " must be a directory"},
			{"fw-root", func(root string) {
				must(t, os.Symlink("/", filepath.Join(root, "firmware")))
			}, "firmware directory '/firmware': /firmware -> / is a symlink"},
			{"fw-parent", func(root string) {
				must(t, os.Symlink("/lib", filepath.Join(root, "firmware")))
			}, "firmware directory '/firmware/intel': /firmware -> /lib is a symlink"},
			{"fw-out", func(root string) {
				must(t, os.MkdirAll(filepath.Join(root, "firmware"), 0o755))
				must(t, os.Symlink("../etc/passwd", filepath.Join(root, "firmware/ice.pkg")))
			}, "/firmware/ice.pkg -> ../etc/passwd (points outside the tree)"},
		}
		if err := syscall.Mknod(filepath.Join(t.TempDir(), "probe"), syscall.S_IFCHR|0o600, 0x0103); err == nil {
			cases = append(cases, struct {
				tag   string
				setup func(root string)
				why   string
			}{"chardev", func(root string) {
				must(t, syscall.Mknod(filepath.Join(root, mods, "null"), syscall.S_IFCHR|0o600, 0x0103))
			}, "/" + mods + "/null (a character device)"})
		} else {
			t.Logf("not testing a device node: cannot create one here (%v)", err)
		}
		for _, c := range cases {
			ref := iceRepo + ":" + c.tag
			n.addImage(ref, digestA, image{kernels: []string{k1}})
			c.setup(n.imageRoot(ref))
			cfg := iceConfig()
			cfg.Image = ref
			if strings.HasPrefix(c.tag, "fw-") {
				cfg.FirmwarePath = "/firmware"
				if c.tag == "fw-parent" {
					cfg.FirmwarePath = "/firmware/intel"
				}
			}
			conf := n.config(cfg)
			r := n.run("fetch.sh", conf)
			n.wantCode(r, FetchExitImageUnusable)
			n.wantLog(r, c.why, "not retrying, not rebooting")
			n.wantNoLog(r, "has no module")
			n.wantCalls(r, "cp")
			n.wantCalls(r, "sleep")
			n.wantReboots(0)
			n.wantAbsent(n.state("ice", k1))
			n.wantStatus("ice", map[string]string{"pull_result": "unusable"})
			if len(n.temps("ice")) != 0 || len(n.stored()) != 0 {
				t.Errorf("%s: left behind: temps %v, images %v", c.tag, n.temps("ice"), n.stored())
			}
		}
		n.wantModule("ice", "in-tree")
	}},

	{"symlinks inside the tree are kept and resolve inside it", func(t *testing.T, n *node) {
		ref := iceRepo + ":" + k1
		n.addImage(ref, digestA, image{kernels: []string{k1}, firmware: map[string]string{"firmware/intel/ice.pkg": "DDP"},
			symlinks: map[string]string{
				"opt/lib/modules/" + k1 + "/weak-updates/ice.ko": "../extra/ice.ko",
				"opt/lib/modules/" + k1 + "/self":                ".",
				"firmware/intel/ice-current.pkg":                 "ice.pkg",
			}})
		c := iceConfig()
		c.FirmwarePath = "/firmware"
		conf := n.config(c)
		n.wantCode(n.run("fetch.sh", conf), 0)
		tree := n.state("ice", k1)
		for p, want := range map[string]string{"lib/modules/" + k1 + "/weak-updates/ice.ko": "../extra/ice.ko", "lib/modules/" + k1 + "/self": ".", "firmware/intel/ice-current.pkg": "ice.pkg"} {
			if l, err := os.Readlink(filepath.Join(tree, p)); err != nil || l != want {
				t.Errorf("%s -> %q (%v), want %s", p, l, err, want)
			}
		}
	}},

	{"a tree larger than MaxTreeBytes is refused before anything is copied", func(t *testing.T, n *node) {
		ref := iceRepo + ":" + k1
		n.addImage(ref, digestA, image{kernels: []string{k1}})
		big := filepath.Join(n.imageRoot(ref), "opt/lib/modules", k1, "extra/blob.bin")
		n.write(big, "")
		must(t, os.Truncate(big, MaxTreeBytes+1)) // sparse: no disk used
		conf := n.config(iceConfig())
		r := n.run("fetch.sh", conf)
		n.wantCode(r, FetchExitImageUnusable)
		n.wantLog(r, "the files for kernel "+k1+" take 21474", "bytes, more than the node's bound of 2147483648 bytes")
		n.wantCalls(r, "cp")
		n.wantAbsent(n.state("ice", k1))
	}},

	{"disk full: the numbers in the message, back-off, the pulled image is kept, no download again", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		r := n.run("fetch.sh", conf, "FAKE_DF_LOW=3")
		n.wantCode(r, 0)
		n.wantLog(r, "attempt 1: not enough free space for the tree in "+n.state("ice")+": it needs ",
			" bytes plus a margin, ", "; 1000 bytes are free; retrying in 5s", "attempt 3: ", "retrying in 20s")
		n.wantCalls(r, "sleep", "sleep 5", "sleep 10", "sleep 20")
		if got := len(r.of("podman pull")); got != 1 {
			t.Errorf("%d pulls, want 1: a retry uses the image already pulled", got)
		}
		if got := len(r.of("cp")); got != 0 {
			t.Errorf("copied although space was short: %q", r.of("cp"))
		}
		n.wantExists(n.state("ice", k1, "lib/modules", k1, "extra/ice.ko"))
		if len(n.stored()) != 0 {
			t.Errorf("image left in the storage: %v", n.stored())
		}
	}},

	{"power loss at any step of replacing a tree: the final path holds the old tree or the new one, whole; the next fetch cleans up", func(t *testing.T, n *node) {
		for _, c := range []struct {
			knob string
			want string // which tree the final path holds after the crash
		}{
			{"FAKE_CP_KILL=1", "old"},   // mid-extract
			{"FAKE_SYNC_KILL=1", "old"}, // the new tree written, not renamed
			{"FAKE_SYNC_KILL=2", "old"}, // renamed to its own name, the link not switched
			{"FAKE_SYNC_KILL=3", "new"}, // the link switched, the old tree not removed yet
		} {
			t.Run(c.knob, func(t *testing.T) {
				n := newNode(t, k1, "ice")
				n.addImage(iceRepo+":a", digestA, image{kernels: []string{k1}, version: "1.0-old"})
				n.addImage(iceRepo+":b", digestB, image{kernels: []string{k1}, version: "2.0-new"})
				cfg := iceConfig()
				cfg.Image = iceRepo + ":a"
				n.wantCode(n.run("fetch.sh", n.config(cfg)), 0)
				cfg.Image = iceRepo + ":b"
				conf := n.config(cfg)
				r := n.run("fetch.sh", conf, c.knob)
				if !r.killed {
					t.Fatalf("%s: the fetch was not killed (exit %d)", c.knob, r.code)
				}
				ko := n.state("ice", k1, "lib/modules", k1, "extra/ice.ko")
				wantVersion := map[string]string{"old": "1.0-old", "new": "2.0-new"}[c.want]
				if got := n.read(ko); !strings.Contains(got, "version="+wantVersion+"\n") {
					t.Errorf("after a crash at %s the tree holds %q, want the %s tree (%s)", c.knob, got, c.want, wantVersion)
				}
				n.boot(k1, "ice")
				r = n.run("load.sh", conf)
				n.wantCode(r, 0)
				if c.want == "new" {
					n.wantModule("ice", "oot 2.0-new")
				} else {
					n.wantLog(r, "the config now names image '"+iceRepo+":b'")
					n.wantModule("ice", "in-tree")
				}
				r = n.run("fetch.sh", conf)
				n.wantCode(r, 0)
				if len(n.temps("ice")) != 0 {
					t.Errorf("left behind after the next fetch: %v", n.temps("ice"))
				}
				if got := n.read(ko); !strings.Contains(got, "version=2.0-new\n") {
					t.Errorf("the next fetch did not put the new tree in place: %q", got)
				}
			})
		}
	}},

	{"a tree written as a directory (before trees were linked) is replaced by a linked one", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		tree := n.state("ice", k1)
		n.writeModule(filepath.Join(tree, "lib/modules", k1), "extra/ice.ko", moduleFile{vermagic: k1, version: "0.9", srcversion: "OLD"})
		n.write(filepath.Join(tree, "record"), "image=registry.example.com/acme/old:1\nmodule=ice\nfirmware_path=\n")
		conf := n.config(iceConfig())
		n.wantCode(n.run("fetch.sh", conf), 0)
		if l, err := os.Readlink(tree); err != nil || !strings.HasPrefix(l, ".tree-"+k1+".") {
			t.Errorf("%s -> %q (%v)", tree, l, err)
		}
		if len(n.temps("ice")) != 0 {
			t.Errorf("left behind: %v", n.temps("ice"))
		}
		n.wantAbsent(n.state("ice", ".tree-"+k1+".dir"))
	}},

	{"a damaged tree is refused before anything is unloaded, then repaired by the gate (one more reboot)", func(t *testing.T, n *node) {
		for _, c := range []struct {
			name   string
			damage func(ko string)
			why    string
		}{
			{"deleted", func(ko string) { must(t, os.Remove(ko)) }, "extra/ice.ko is missing or not a regular file"},
			{"truncated", func(ko string) { must(t, os.Truncate(ko, 3)) }, "extra/ice.ko has 3 bytes, "},
			// Same size, other bytes: only the load's full check sees it.
			{"corrupted", func(ko string) {
				b, err := os.ReadFile(ko)
				must(t, err)
				b[len(b)-2] ^= 1
				must(t, os.WriteFile(ko, b, 0o644))
			}, "extra/ice.ko does not match its sha256"},
		} {
			t.Run(c.name, func(t *testing.T) {
				n := newNode(t, k1, "ice")
				n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
				conf := n.config(iceConfig())
				n.pullAndBoot(conf, "ice")
				n.wantCode(n.run("load.sh", conf), 0)
				n.wantModule("ice", "oot 1.2.3-oot")

				// Between boots, the disk loses part of the tree.
				n.boot(k1, "ice")
				c.damage(n.state("ice", k1, "lib/modules", k1, "extra/ice.ko"))
				r := n.run("load.sh", conf)
				n.wantCode(r, 1)
				n.wantLog(r, "the tree at "+n.state("ice", k1)+" is damaged: ", c.why, "the in-tree driver is kept (nothing was unloaded)")
				n.wantCalls(r, "modprobe")
				n.wantModule("ice", "in-tree")
				n.wantStatus("ice", map[string]string{"load_result": "failed", "loaded": "in-tree", "tree": ""})
				if !strings.Contains(n.status("ice")["load_reason"], c.why) {
					t.Errorf("load_reason %q lacks %q", n.status("ice")["load_reason"], c.why)
				}

				// The gate does not count the tree as current: it fetches it again and reboots once more.
				r = n.run("pull.sh", conf)
				n.wantCode(r, 0)
				n.wantLog(r, "is damaged (", "fetching it again")
				n.wantCalls(r, "podman pull", "podman pull "+iceRepo+":"+k1)
				n.wantReboots(2)
				n.boot(k1, "ice")
				n.wantCode(n.run("load.sh", conf), 0)
				n.wantModule("ice", "oot 1.2.3-oot")
				r = n.run("pull.sh", conf)
				n.wantLog(r, "nothing to fetch")
			})
		}
	}},

	{"an out-of-tree module needing an in-tree one: the tree sees the host's modules, modprobe loads the dependency", func(t *testing.T, n *node) {
		n.boot(k1, "irdma")
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}, module: "irdma", needs: "ib_register_device printk"})
		c := iceConfig()
		c.Name, c.Module, c.InTreeModules, c.Parameters = "irdma", "irdma", []string{"irdma"}, nil
		conf := n.config(c)
		n.pullAndBoot(conf, "irdma")
		moddir := n.state("irdma", k1, "lib/modules", k1)
		if l, err := os.Readlink(filepath.Join(moddir, "day1kmod-host")); err != nil || l != filepath.Join(n.root, "lib/modules", k1) {
			t.Errorf("day1kmod-host -> %q (%v), want the host's module directory", l, err)
		}
		if got := n.read(filepath.Join(moddir, "modules.builtin")); got != "kernel/drivers/net/mii.ko\n" {
			t.Errorf("modules.builtin = %q, want the host's", got)
		}
		if dep := n.read(filepath.Join(moddir, "modules.dep")); !strings.Contains(dep, "extra/irdma.ko: day1kmod-host/kernel/drivers/infiniband/core/ib_core.ko") {
			t.Errorf("modules.dep does not resolve irdma's in-tree dependency:\n%s", dep)
		}
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantModule("irdma", "oot 1.2.3-oot")
		if n.sys("ib_core", "srcversion") != "INTREEIBCORE" {
			t.Errorf("the in-tree ib_core was not loaded with it: %v", n.loadedModules())
		}
	}},

	{"a module needing symbols nobody exports: refused by the fetch, before any reboot, symbols named", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}, needs: "ib_register_device ice_magic_hook mlx_fancy"})
		conf := n.config(iceConfig())
		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "modules need symbols that neither the running kernel "+k1+", its modules nor the image provide: ice_magic_hook (needed by extra/ice.ko), mlx_fancy (needed by extra/ice.ko)",
			"not retrying, not rebooting")
		n.wantNoLog(r, "ib_register_device (")
		n.wantReboots(0)
		n.wantStatus("ice", map[string]string{"pull_result": "unusable"})
		n.wantAbsent(n.state("ice", k1))
	}},

	{"the kernel's symbols from System.map when there is no symvers; neither: said, not checked", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}, needs: "printk ice_magic_hook"})
		conf := n.config(iceConfig())
		must(t, os.Remove(filepath.Join(n.root, "lib/modules", k1, "symvers.gz")))
		sysmap := filepath.Join(n.root, "boot", "System.map-"+k1)
		n.write(sysmap, "ffffffff81000000 T _stext\nffffffff82000000 r __ksymtab_printk\n")
		r := n.run("fetch.sh", conf)
		n.wantCode(r, FetchExitImageUnusable)
		n.wantLog(r, "ice_magic_hook (needed by extra/ice.ko)")
		n.wantNoLog(r, "printk (")
		if dep := r.of("depmod"); len(dep) != 1 || !strings.Contains(dep[0], " -e -F ") {
			t.Errorf("depmod calls: %q", dep)
		}
		// A System.map without export entries says nothing: not used.
		n.write(sysmap, "ffffffff81000000 T _stext\n")
		r = n.run("fetch.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "the host has no symvers or System.map for kernel "+k1+": the symbols 'ice' needs are not checked before the reboot")
	}},

	{"the kernel enforces signatures: an unsigned module is refused by the fetch and by the load, before anything is unloaded", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.addImage(iceRepo+":signed", digestB, image{kernels: []string{k1}, signer: "Acme kernel signing key"})
		enforce := filepath.Join(n.root, "sys/module/module/parameters/sig_enforce")
		n.write(enforce, "Y\n")
		conf := n.config(iceConfig())
		r := n.run("fetch.sh", conf)
		n.wantCode(r, FetchExitImageUnusable)
		n.wantLog(r, "module 'ice' in ", "is not signed, and the running kernel refuses unsigned modules (module.sig_enforce is set)", "not retrying, not rebooting")
		n.wantAbsent(n.state("ice", k1))

		signed := iceConfig()
		signed.Image = iceRepo + ":signed"
		n.wantCode(n.run("fetch.sh", n.config(signed)), 0)

		// A tree fetched while nothing was enforced; the next boot is locked down.
		must(t, os.Remove(enforce))
		conf = n.config(iceConfig())
		n.wantCode(n.run("fetch.sh", conf), 0)
		n.boot(k1, "ice")
		n.write(filepath.Join(n.root, "sys/kernel/security/lockdown"), "none [integrity] confidentiality\n")
		r = n.run("load.sh", conf)
		n.wantCode(r, 1)
		n.wantLog(r, "is not signed, and the running kernel refuses unsigned modules (the kernel is locked down (none [integrity] confidentiality))", "nothing was unloaded")
		n.wantCalls(r, "modprobe")
		n.wantModule("ice", "in-tree")

		n.boot(k1, "ice")
		n.write(filepath.Join(n.root, "sys/kernel/security/lockdown"), "none [integrity] confidentiality\n")
		conf = n.config(signed)
		n.wantCode(n.run("fetch.sh", conf), 0)
		r = n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "is signed by 'Acme kernel signing key'")
		n.wantModule("ice", "oot 1.2.3-oot")
	}},

	{"firmware of several modules: same file with other content refused naming both owners; links installed as files; never written through a link", func(t *testing.T, n *node) {
		n.boot(k1, "ice", "irdma")
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}, firmware: map[string]string{
			"firmware/intel/ice.pkg": "ICE", "firmware/intel/shared.bin": "SHARED", "firmware/intel/common.bin": "SAME",
		}, symlinks: map[string]string{"firmware/intel/ice-current.pkg": "ice.pkg"}})
		irdmaRepo := "registry.example.com/acme/irdma-kmod"
		n.addImage(irdmaRepo+":"+k1, digestB, image{kernels: []string{k1}, module: "irdma", firmware: map[string]string{
			"firmware/intel/shared.bin": "OTHER", "firmware/intel/common.bin": "SAME",
		}})
		ice := iceConfig()
		ice.FirmwarePath = "/firmware"
		iceConf := n.config(ice)
		irdma := Config{Name: "irdma", Image: irdmaRepo + ":" + KernelVersionPlaceholder, Module: "irdma", InTreeModules: []string{"irdma"}, FirmwarePath: "/firmware"}
		irdmaConf := n.config(irdma)
		n.wantCode(n.run("fetch.sh", iceConf), 0)
		n.wantCode(n.run("fetch.sh", irdmaConf), 0)
		n.boot(k1, "ice", "irdma")
		r := n.run("load.sh", iceConf)
		n.wantCode(r, 0)
		fw := filepath.Join(n.root, FirmwareDir)
		if fi, err := os.Lstat(filepath.Join(fw, "intel/ice-current.pkg")); err != nil || !fi.Mode().IsRegular() || n.read(filepath.Join(fw, "intel/ice-current.pkg")) != "ICE" {
			t.Errorf("the tree's firmware link was not installed as a regular file: %v %v", fi, err)
		}
		r = n.run("load.sh", irdmaConf)
		n.wantCode(r, 1)
		n.wantLog(r, "firmware files of 'irdma' collide with those of other Day1KernelModules: intel/shared.bin (installed by 'ice', another content in 'irdma')", "nothing was unloaded")
		n.wantNoLog(r, "common.bin (")
		n.wantModule("irdma", "in-tree")
		if got := n.read(filepath.Join(fw, "intel/shared.bin")); got != "SHARED" {
			t.Errorf("ice's firmware was overwritten: %q", got)
		}

		// A link planted in day1kmod's firmware directory is not written through.
		n.boot(k1, "ice")
		outside := filepath.Join(n.root, "etc")
		must(t, os.RemoveAll(filepath.Join(fw, "intel")))
		must(t, os.Symlink(outside, filepath.Join(fw, "intel")))
		r = n.run("load.sh", iceConf)
		n.wantCode(r, 1)
		n.wantLog(r, filepath.Join(fw, "intel")+" is a symlink: not writing firmware through it")
		n.wantAbsent(filepath.Join(outside, "ice.pkg"), filepath.Join(outside, "shared.bin"))
		n.wantModule("ice", "in-tree")
	}},

	{"firmware a module no longer has is removed, unless another module lists it", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":a", digestA, image{kernels: []string{k1}, firmware: map[string]string{"firmware/intel/a.bin": "A", "firmware/intel/b.bin": "B", "firmware/intel/c.bin": "C"}})
		n.addImage(iceRepo+":b", digestB, image{kernels: []string{k1}, firmware: map[string]string{"firmware/intel/a.bin": "A2"}})
		irdmaRepo := "registry.example.com/acme/irdma-kmod"
		n.addImage(irdmaRepo+":"+k1, digestB, image{kernels: []string{k1}, module: "irdma", firmware: map[string]string{"firmware/intel/c.bin": "C"}})
		irdma := n.config(Config{Name: "irdma", Image: irdmaRepo + ":" + KernelVersionPlaceholder, Module: "irdma", FirmwarePath: "/firmware"})
		c := iceConfig()
		c.Image, c.FirmwarePath = iceRepo+":a", "/firmware"
		conf := n.config(c)
		n.wantCode(n.run("fetch.sh", conf), 0)
		n.wantCode(n.run("fetch.sh", irdma), 0)
		n.boot(k1, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantCode(n.run("load.sh", irdma), 0)

		c.Image = iceRepo + ":b"
		conf = n.config(c)
		n.wantCode(n.run("fetch.sh", conf), 0)
		n.boot(k1, "ice")
		r := n.run("load.sh", conf)
		n.wantCode(r, 0)
		fw := filepath.Join(n.root, FirmwareDir, "intel")
		n.wantLog(r, "removing firmware file intel/b.bin that 'ice' no longer has")
		n.wantAbsent(filepath.Join(fw, "b.bin"))
		n.wantExists(filepath.Join(fw, "c.bin")) // irdma's too
		if got := n.read(filepath.Join(fw, "a.bin")); got != "A2" {
			t.Errorf("a.bin = %q, want the new image's", got)
		}
	}},

	{"a moving tag: the gate of a current tree asks the registry in the background; a new digest is fetched and staged (BeforeKubelet), journal says both", func(t *testing.T, n *node) {
		ref := iceRepo + ":" + k1
		n.addImage(ref, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		n.wantCode(n.run("load.sh", conf), 0)

		// Same digest: one manifest look, no pull, no reboot.
		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "systemctl start", startFetch)
		n.wantCalls(r, "skopeo", "skopeo inspect --no-tags --format {{.Digest}} docker://"+ref)
		n.wantCalls(r, "podman")
		n.wantLog(r, "still points to "+digestA)

		// The registry does not answer: said, nothing else happens.
		r = n.run("pull.sh", conf, "FAKE_SKOPEO_FAIL=1")
		n.wantCode(r, 0)
		n.wantLog(r, "could not ask the registry which digest tag '"+ref+"' points to")
		n.wantCalls(r, "podman")
		n.wantStatus("ice", map[string]string{"pull_result": "current"})

		// The tag is rebuilt with a fix.
		n.addImage(ref, digestB, image{kernels: []string{k1}, version: "1.2.4-fix"})
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "image tag '"+ref+"' now points to "+digestB+"; the tree for kernel "+k1+" at "+n.state("ice", k1)+" was extracted from "+digestA,
			"rebootPolicy BeforeKubelet does not reboot a node that may run workloads")
		n.wantCalls(r, "podman pull", "podman pull "+ref)
		n.wantReboots(1)
		n.wantStatus("ice", map[string]string{"pull_result": "staged", "reboot_pending": "yes", "digest": digestB})
		n.wantModule("ice", "oot 1.2.3-oot") // the running module stays until a reboot

		n.boot(k1, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 1.2.4-fix")
		r = n.run("pull.sh", conf)
		n.wantLog(r, "still points to "+digestB)
		n.wantCalls(r, "podman")
	}},

	{"a moving tag under rebootPolicy Always reboots once for the new digest; a digest reference is never asked about", func(t *testing.T, n *node) {
		ref := iceRepo + ":" + k1
		n.addImage(ref, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.RebootPolicy = "Always"
		conf := n.config(c)
		n.pullAndBoot(conf, "ice")
		n.addImage(ref, digestB, image{kernels: []string{k1}, version: "1.2.4-fix"})
		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "now points to "+digestB, "rebootPolicy Always reboots now")
		n.wantReboots(2)

		pinned := iceConfig()
		pinned.Image = iceRepo + "@" + digestA
		n.addImage(pinned.Image, digestA, image{kernels: []string{k1}})
		conf = n.config(pinned)
		n.boot(k1, "ice")
		n.wantCode(n.run("fetch.sh", conf), 0)
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "systemctl")
		n.wantCalls(r, "skopeo")
		r = n.run("fetch.sh", conf)
		n.wantCalls(r, "skopeo")
	}},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestHostile(t *testing.T) {
	for _, sc := range hostile {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, newNode(t, k1, "ice"))
		})
	}
}
