package nodescripts

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The node lifecycle on OpenShift: the gate in front of the kubelet, the
// background fetch, the reboot policy, the time limits of the pre-network
// load, pruning and the status file. Each runs on a fresh test node whose
// in-tree ice driver is up.
var lifecycle = []struct {
	name string
	run  func(t *testing.T, n *node)
}{
	{"registry down past the bound: the kubelet starts, no reboot; the late fetch is staged (BeforeKubelet)", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		r := n.run("pull.sh", conf, "FAKE_FETCH_LATE=1", "JOURNAL_STREAM=8:1")
		n.wantCode(r, 0) // the kubelet starts
		n.wantCalls(r, "systemctl start", startFetch)
		if got := len(r.of("sleep")); got != 60 {
			t.Errorf("the gate looked %d times, want every 5 s for 300 s", got)
		}
		n.wantLog(r, "<3>day1kmod[ice]: ERROR: the module 'ice' for kernel "+k1+" was not fetched within 300s",
			"the node keeps the in-tree driver", "goes on in the background", "rebootPolicy BeforeKubelet does not reboot a node that may run workloads")
		n.wantReboots(0)
		n.wantStatus("ice", map[string]string{"pull_result": "fetching", "reboot_pending": "no", "loaded": "in-tree", "tree": ""})

		// The registry comes back later in that boot, the kubelet runs.
		n.unitState("kubelet.service", "active")
		r = n.run("fetch.sh", conf, "FAKE_PULL_FAILS=2")
		n.wantCode(r, 0)
		n.wantReboots(0)
		n.wantCalls(r, "systemctl reboot")
		n.wantLog(r, "warning: the fetch finished after the kubelet was let start: rebootPolicy BeforeKubelet does not reboot a node that may run workloads; 'ice' is loaded at the next reboot")
		n.wantStatus("ice", map[string]string{"pull_result": "staged", "reboot_pending": "yes", "tree": n.state("ice", k1), "digest": digestA, "loaded": "in-tree"})
		n.wantModule("ice", "in-tree")

		// The MCD's next drained reboot: loaded before the network, the gate costs nothing.
		n.boot(k1, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 1.2.3-oot")
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		// Only the background check of the tag (the fake runs it at once).
		n.wantCalls(r, "systemctl", startFetch)
		n.wantCalls(r, "podman")
		n.wantCalls(r, "sleep")
		n.wantStatus("ice", map[string]string{"pull_result": "current", "reboot_pending": "no", "loaded": "oot", "load_result": "loaded"})
	}},

	{"the gate gave up but still shows activating: a fetch done in that moment stages, it does not count on the gate", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.wantCode(n.run("pull.sh", conf, "FAKE_FETCH_LATE=1"), 0)
		n.wantExists(filepath.Join(n.root, RunDir, "ice.gate-gave-up"))
		n.unitState(PullUnit("ice"), "activating") // the gate has not quite exited; the kubelet not started yet
		r := n.run("fetch.sh", conf)
		n.wantCode(r, 0)
		n.wantReboots(0)
		n.wantStatus("ice", map[string]string{"pull_result": "staged", "reboot_pending": "yes"})
	}},

	{"real-time kernel: the image tag maps '+' to '_', the tree keeps the real kernel name", func(t *testing.T, n *node) {
		const rt = "5.14.0-427.13.1.el9_4.x86_64+rt"
		n.boot(rt)
		n.addImage(iceRepo+":5.14.0-427.13.1.el9_4.x86_64_rt", digestA, image{kernels: []string{rt}})
		conf := n.config(iceConfig())
		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "podman pull", "podman pull "+iceRepo+":5.14.0-427.13.1.el9_4.x86_64_rt")
		n.wantReboots(1)
		n.wantExists(n.state("ice", rt, "lib/modules", rt, "extra/ice.ko"))
		n.boot(rt)
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 1.2.3-oot")
		n.wantStatus("ice", map[string]string{"kernel": rt, "image": iceRepo + ":5.14.0-427.13.1.el9_4.x86_64_rt", "tree": n.state("ice", rt)})
	}},

	{"rebootPolicy Always: a late fetch reboots the node although the kubelet runs", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.RebootPolicy = RebootAlways
		c.MaxKubeletDelay = 30 * time.Second
		conf := n.config(c)
		r := n.run("pull.sh", conf, "FAKE_FETCH_LATE=1")
		n.wantCode(r, 0)
		if got := len(r.of("sleep")); got != 6 {
			t.Errorf("the gate looked %d times, want every 5 s for 30 s", got)
		}
		n.wantLog(r, "was not fetched within 30s", "rebootPolicy Always reboots the node although workloads may run")
		n.wantReboots(0)
		n.unitState("kubelet.service", "active")
		r = n.run("fetch.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "rebootPolicy Always reboots now, without a drain")
		n.wantCalls(r, "systemctl reboot", "systemctl reboot")
		n.wantReboots(1)
	}},

	{"rebootPolicy Never: the kubelet is not held and day1kmod never reboots", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.RebootPolicy = RebootNever
		conf := n.config(c)
		r := n.run("pull.sh", conf) // the fetch finishes at once, the gate does not wait for it
		n.wantCode(r, 0)
		n.wantCalls(r, "sleep")
		n.wantCalls(r, "systemctl reboot")
		n.wantLog(r, "rebootPolicy Never: not holding the kubelet", "rebootPolicy Never: day1kmod does not reboot")
		n.wantReboots(0)
		n.wantStatus("ice", map[string]string{"pull_result": "staged", "reboot_pending": "yes"})
		n.unitState("kubelet.service", "active")
		n.wantCode(n.run("fetch.sh", conf), 0) // nothing to fetch any more
		n.wantReboots(0)
		n.boot(k1, "ice") // someone else reboots
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 1.2.3-oot")
	}},

	{"image unusable: the gate stops holding the kubelet at once, no reboot", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k2}})
		conf := n.config(iceConfig())
		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "sleep")
		n.wantLog(r, "has no /opt/lib/modules/"+k1, "day1kmod-fetch-ice.service failed", "not holding the kubelet any longer")
		n.wantReboots(0)
		n.wantStatus("ice", map[string]string{"pull_result": "unusable"})
	}},

	{"fetch retries with a doubling delay capped at 5 minutes, then stages", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		r := n.run("fetch.sh", conf, "FAKE_PULL_FAILS=10")
		n.wantCode(r, 0)
		n.wantCalls(r, "sleep", "sleep 5", "sleep 10", "sleep 20", "sleep 40", "sleep 80", "sleep 160",
			"sleep 300", "sleep 300", "sleep 300", "sleep 300")
		if got := len(r.of("podman pull")); got != 11 {
			t.Errorf("%d pulls, want 11", got)
		}
		n.wantLog(r, "attempt 10: could not pull image '"+iceRepo+":"+k1+"'; retrying in 300s")
		n.wantExists(n.state("ice", k1, "record"))
		n.wantReboots(0) // no gate holds the kubelet: staged
		n.wantStatus("ice", map[string]string{"pull_result": "staged", "reboot_pending": "yes"})
	}},

	{"an extraction that fails is retried without downloading the image again", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		r := n.run("pull.sh", conf, "FAKE_CP_FAILS=1")
		n.wantCode(r, 0)
		n.wantCalls(r, "podman pull", "podman pull "+iceRepo+":"+k1)
		n.wantCalls(r, "sleep", "sleep 5")
		n.wantLog(r, "attempt 1: could not extract the module")
		n.wantReboots(1)
		if len(n.temps("ice")) != 0 || len(n.stored()) != 0 {
			t.Errorf("left behind: temps %v, images %v", n.temps("ice"), n.stored())
		}
	}},

	{"one fetch at a time: a second one leaves the work to the first", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		release := filepath.Join(n.fake, "release")
		wait := n.start("fetch.sh", conf, "FAKE_PULL_WAIT="+release)
		// The first fetch has the lock once its pull started.
		for deadline := time.Now().Add(20 * time.Second); !exists(filepath.Join(n.fake, "pull-attempts")); {
			if time.Now().After(deadline) {
				t.Fatal("the first fetch never pulled")
			}
			time.Sleep(20 * time.Millisecond)
		}
		r := n.run("fetch.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "another fetch of 'ice' is running")
		n.wantCalls(r, "podman")
		n.write(release, "")
		if code, out := wait(); code != 0 {
			t.Fatalf("first fetch: exit %d\n%s", code, out)
		}
		n.wantExists(n.state("ice", k1, "record"))
		if got := strings.TrimSpace(n.read(filepath.Join(n.fake, "pull-attempts"))); got != "1" {
			t.Errorf("%s pulls, want 1", got)
		}
		if len(n.temps("ice")) != 0 {
			t.Errorf("temps left: %v", n.temps("ice"))
		}

		// A lock held by another process (a fetch started by hand).
		n.boot(k2, "ice")
		n.addImage(iceRepo+":"+k2, digestA, image{kernels: []string{k2}})
		n.mkdir(filepath.Join(n.root, RunDir))
		f, err := os.Create(filepath.Join(n.root, RunDir, "ice.fetch.lock"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		r = n.run("fetch.sh", conf)
		n.wantCode(r, 0)
		n.wantCalls(r, "podman")
		n.wantAbsent(n.state("ice", k2))
	}},

	{"kernel upgrades: the running kernel's tree and the previous one are kept, older ones pruned", func(t *testing.T, n *node) {
		const k3 = "5.14.0-427.13.1.el9_4.x86_64"
		conf := n.config(iceConfig())
		for i, k := range []string{k1, k2, k3} {
			n.addImage(iceRepo+":"+k, fmt.Sprintf("sha256:%064d", i), image{kernels: []string{k}})
		}
		n.pullAndBoot(conf, "ice")
		n.boot(k2, "ice")
		n.pullAndBoot(conf, "ice")
		n.wantExists(n.state("ice", k1), n.state("ice", k2))
		// k1's tree is the older one.
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(n.state("ice", k1, "record"), old, old); err != nil {
			t.Fatal(err)
		}
		n.boot(k3) // the fake host has no in-tree modules for k3
		r := n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantReboots(3)
		n.wantLog(r, "removing the tree of kernel "+k1, "removing the reboot stamp")
		n.wantAbsent(n.state("ice", k1))
		n.wantExists(n.state("ice", k2), n.state("ice", k3))
		stamps, _ := filepath.Glob(n.state("ice", "rebooted-*"))
		for _, s := range stamps {
			if strings.Contains(s, k1) {
				t.Errorf("stamp of the pruned kernel kept: %s", s)
			}
		}
		if len(stamps) != 2 {
			t.Errorf("stamps %v, want those of %s and %s", stamps, k2, k3)
		}
		// Rolling back to k2 (the previous kernel) still loads the module.
		n.boot(k2, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 1.2.3-oot")
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantNoLog(r, "removing")
		n.wantExists(n.state("ice", k2), n.state("ice", k3))
	}},

	{"an out-of-tree module stuck in its init: stopped at its limit, the unit fails saying so", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.InTreeModules = []string{"irdma", "ice"}
		conf := n.config(c)
		n.pullAndBoot(conf, "ice", "irdma")
		start := time.Now()
		r := n.run("load.sh", conf, "FAKE_MODPROBE_HANG=ice")
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("took %s", d)
		}
		n.wantCode(r, 1)
		n.wantLog(r, "loading out-of-tree module 'ice' (modprobe) did not finish within 60s",
			"cannot reload in-tree module 'ice': a module of that name is stuck in the kernel (state Loading",
			"reloaded in-tree modules: irdma", "NOT reloaded: ice", "out-of-tree module 'ice' is stuck in its init")
		n.wantModule("irdma", "in-tree") // the rollback ran for what it could
		n.wantStatus("ice", map[string]string{"load_result": "failed"})
		if !strings.Contains(n.status("ice")["load_reason"], "stuck in its init") {
			t.Errorf("load_reason %q", n.status("ice")["load_reason"])
		}
	}},

	{"an in-tree module whose unload hangs: stopped, the others reloaded, the unit fails", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		c := iceConfig()
		c.InTreeModules = []string{"irdma", "ice"}
		conf := n.config(c)
		n.pullAndBoot(conf, "ice", "irdma")
		r := n.run("load.sh", conf, "FAKE_UNLOAD_HANG=ice")
		n.wantCode(r, 1)
		n.wantCalls(r, "modprobe", "modprobe -r irdma", "modprobe -r ice", "modprobe irdma")
		n.wantLog(r, "unloading in-tree module 'ice' did not finish within 30s", "state Unloading", "reloaded in-tree modules: irdma")
		n.wantModule("irdma", "in-tree")
		n.wantStatus("ice", map[string]string{"load_result": "failed"})
	}},

	{"udev that never settles: stopped at its limit, the load goes on", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		r := n.run("load.sh", conf, "FAKE_SETTLE_HANG=1", "FAKE_HANG_SECONDS=70")
		n.wantCode(r, 0)
		n.wantLog(r, "udevadm settle did not finish within 65s", "udev did not settle within 60s")
		n.wantModule("ice", "oot 1.2.3-oot")
		n.wantStatus("ice", map[string]string{"load_result": "loaded", "loaded": "oot"})
	}},

	{"steps that hang use up the load's budget: the rest is not tried, the in-tree driver stays", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.pullAndBoot(conf, "ice")
		r := n.run("load.sh", conf, "FAKE_SETTLE_HANG=1") // hangs a day
		n.wantCode(r, 1)
		n.wantCalls(r, "modprobe")
		n.wantLog(r, "unloading in-tree module 'ice' not tried: the time budget of this phase is spent", "no in-tree module had been unloaded")
		n.wantModule("ice", "in-tree")
		n.wantStatus("ice", map[string]string{"load_result": "rolled-back", "loaded": "in-tree"})
	}},

	{"the status file says what runs and what each unit did", func(t *testing.T, n *node) {
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		conf := n.config(iceConfig())
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantStatus("ice", map[string]string{"load_result": "not-on-disk", "loaded": "in-tree", "module_version": "in-tree", "tree": "", "digest": ""})
		n.pullAndBoot(conf, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantCode(n.run("pull.sh", conf), 0)
		b := n.read(filepath.Join(n.root, StatusPath("ice")))
		var keys []string
		for _, l := range strings.Split(strings.TrimSpace(b), "\n") {
			if !strings.HasPrefix(l, "#") {
				k, _, _ := strings.Cut(l, "=")
				keys = append(keys, k)
			}
		}
		if got, want := strings.Join(keys, " "), "name kernel module loaded module_version module_srcversion tree image digest "+
			"load_result load_reason load_time pull_result pull_reason pull_time reboot_pending "+
			"prefetch_result prefetch_kernel prefetch_reason prefetch_time"; got != want {
			t.Errorf("keys:\n%s\nwant:\n%s", got, want)
		}
		n.wantStatus("ice", map[string]string{
			"name": "ice", "kernel": k1, "module": "ice", "loaded": "oot", "module_version": "1.2.3-oot",
			"module_srcversion": oot("ice", "1.2.3-oot"), "tree": n.state("ice", k1), "image": iceRepo + ":" + k1,
			"digest": digestA, "load_result": "loaded", "pull_result": "current", "reboot_pending": "no",
		})
		rfc3339 := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
		for _, k := range []string{"load_time", "pull_time"} {
			if v := n.status("ice")[k]; !rfc3339.MatchString(v) {
				t.Errorf("%s=%q is not RFC 3339 UTC", k, v)
			}
		}
		if !strings.HasPrefix(b, "# ") {
			t.Errorf("no comment header:\n%s", b)
		}

		// Load and gate write at the same time: neither loses the other's keys.
		for i := 0; i < 4; i++ {
			if err := os.Remove(filepath.Join(n.root, StatusPath("ice"))); err != nil {
				t.Fatal(err)
			}
			waits := []func() (int, string){n.start("load.sh", conf), n.start("pull.sh", conf), n.start("fetch.sh", conf)}
			for _, w := range waits {
				if code, out := w(); code != 0 {
					t.Fatalf("exit %d\n%s", code, out)
				}
			}
			n.wantStatus("ice", map[string]string{"load_result": "already-loaded", "pull_result": "current", "loaded": "oot"})
		}
		if m, _ := filepath.Glob(filepath.Join(n.root, RunDir, "*.tmp.*")); len(m) != 0 {
			t.Errorf("temporary status files left: %v", m)
		}
	}},
}

func TestNodeLifecycle(t *testing.T) {
	for _, sc := range lifecycle {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, newNode(t, k1, "ice"))
		})
	}
}
