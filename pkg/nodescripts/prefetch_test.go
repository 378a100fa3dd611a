package nodescripts

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fetch for the next boot at shutdown (fetch.sh --next-boot, the
// ExecStop of the prefetch unit): the MCD has written the new config file
// and staged the next OS deployment; the next boot must find its tree.

const nextBoot = "fetch.sh " + NextBootFlag

// stagedCsum is the checksum of the deployment stageDeployment stages.
var stagedCsum = strings.Repeat("c", 64)

// deployment is the root of the staged deployment, as ostree lays it out.
func (n *node) deployment() string {
	return filepath.Join(n.root, "ostree/deploy/rhcos/deploy", stagedCsum+".0")
}

// stageDeployment plays an OS update staged before the MCD's reboot: the
// host's modules of kernel k move from the running root into a new
// deployment (so nothing of k is found at the running system's paths), which
// `ostree admin status` lists first, the booted one second.
func (n *node) stageDeployment(k string) {
	n.t.Helper()
	mods := filepath.Join(n.deployment(), "usr/lib/modules", k)
	n.mkdir(filepath.Dir(mods))
	if err := os.Rename(filepath.Join(n.root, "lib/modules", k), mods); err != nil {
		n.t.Fatal(err)
	}
	n.write(filepath.Join(mods, "vmlinuz"), "kernel image\n")
	if err := os.Symlink("usr/lib", filepath.Join(n.deployment(), "lib")); err != nil {
		n.t.Fatal(err)
	}
	n.write(filepath.Join(n.fake, "ostree-status"),
		"  rhcos "+stagedCsum+".0 (staged)\n    Version: 9.6.20260202-0\n"+
			"* rhcos "+strings.Repeat("1", 64)+".0\n    Version: 9.6.20260101-0\n")
}

// bootDeployment reboots into the staged deployment: its modules are the
// running system's now, and it is the booted one.
func (n *node) bootDeployment(k string, loaded ...string) {
	n.t.Helper()
	if err := os.Rename(filepath.Join(n.deployment(), "usr/lib/modules", k), filepath.Join(n.root, "lib/modules", k)); err != nil {
		n.t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(n.fake, "ostree-status")); err != nil {
		n.t.Fatal(err)
	}
	n.boot(k, loaded...)
}

// prefetchRecord reads what the last shutdown recorded for name.
func (n *node) prefetchRecord(name string) map[string]string {
	n.t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(n.read(n.state(name, "prefetch")), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// fakeEpoch is the fake clock before anything advanced it (fakelib.sh).
const fakeEpoch = 1767225600

// now is the fake clock, in seconds (see testdata/fakebin/date).
func (n *node) now() int {
	n.t.Helper()
	b, err := os.ReadFile(filepath.Join(n.fake, "clock"))
	if err != nil {
		return fakeEpoch
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		n.t.Fatal(err)
	}
	return v
}

// shutdownConfig is iceConfig with a 60 s bound at shutdown.
func shutdownConfig() Config {
	c := iceConfig()
	c.MaxShutdownDelay = 60 * time.Second
	return c
}

var prefetch = []struct {
	name string
	run  func(t *testing.T, n *node)
}{
	{"nothing to fetch: one look, no pull, and the next boot says so", func(t *testing.T, n *node) {
		conf := n.config(iceConfig())
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.pullAndBoot(conf, "ice")
		r := n.run(nextBoot, conf)
		n.wantCode(r, 0)
		n.wantLog(r, "next boot: modules for kernel "+k1+" are on disk at "+n.state("ice", k1)+": nothing to fetch")
		n.wantCalls(r, "podman")
		n.wantCalls(r, "getent")
		n.wantCalls(r, "ostree", "ostree admin status")
		n.wantReboots(1)
		n.boot(k1, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantStatus("ice", map[string]string{"prefetch_result": "current", "prefetch_kernel": k1, "loaded": "oot"})
	}},
	{"kernel upgrade: the staged deployment's kernel is fetched at shutdown, its first boot loads it without a reboot", func(t *testing.T, n *node) {
		conf := n.config(shutdownConfig())
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		// For k2 the module needs a symbol of k2's own in-tree ib_core,
		// which only the staged deployment has: the check must read it.
		n.addImage(iceRepo+":"+k2, digestB, image{kernels: []string{k2}, needs: "ib_register_device printk"})
		n.pullAndBoot(conf, "ice")
		n.stageDeployment(k2)
		r := n.run(nextBoot, conf)
		n.wantCode(r, 0)
		n.wantLog(r, "next boot: no current tree for kernel "+k2+" (the next deployment "+stagedCsum[:12]+".0): fetching image '"+iceRepo+":"+k2+"', at most 60s (maxShutdownDelay)",
			"modules for kernel "+k2+" are in "+n.state("ice", k2),
			"next boot: fetched image '"+iceRepo+":"+k2+"' for kernel "+k2)
		n.wantNoLog(r, "unknown symbol", "warning")
		n.wantCalls(r, "podman", "podman pull "+iceRepo+":"+k2,
			"podman image inspect --format {{.Digest}} "+iceRepo+":"+k2, "podman image mount "+iceRepo+":"+k2,
			"podman image unmount "+iceRepo+":"+k2, "podman rmi "+iceRepo+":"+k2)
		n.wantReboots(1) // only the first rollout's
		if got, want := n.prefetchRecord("ice"), (map[string]string{"result": "fetched", "kernel": k2}); got["result"] != want["result"] || got["kernel"] != want["kernel"] {
			t.Errorf("prefetch record %v, want %v", got, want)
		}
		// The tree links the host modules where the booted k2 will have them.
		link, err := os.Readlink(n.state("ice", k2, "lib/modules", k2, "day1kmod-host"))
		if err != nil || link != filepath.Join(n.root, "lib/modules", k2) {
			t.Errorf("host link %q (%v), want %s", link, err, filepath.Join(n.root, "lib/modules", k2))
		}
		if len(n.temps("ice")) > 0 {
			t.Errorf("left behind: %v", n.temps("ice"))
		}
		n.wantAbsent(filepath.Join(n.root, "run/day1kmod/ice.prefetch-error"))

		n.bootDeployment(k2, "ice")
		r = n.run("load.sh", conf)
		n.wantCode(r, 0)
		n.wantModule("ice", "oot 1.2.3-oot")
		r = n.run("pull.sh", conf)
		n.wantCode(r, 0)
		n.wantLog(r, "nothing to fetch, the kubelet may start")
		n.wantReboots(1)
		n.wantStatus("ice", map[string]string{"kernel": k2, "loaded": "oot", "pull_result": "current",
			"prefetch_result": "fetched", "prefetch_kernel": k2, "reboot_pending": "no"})
	}},
	{"image edit: the config file the MCD wrote names another image, fetched for the next boot", func(t *testing.T, n *node) {
		conf := n.config(iceConfig())
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.pullAndBoot(conf, "ice")
		c := iceConfig()
		c.Image = "registry.example.com/acme/ice-kmod-v2:" + KernelVersionPlaceholder
		n.config(c)
		n.addImage("registry.example.com/acme/ice-kmod-v2:"+k1, digestB, image{kernels: []string{k1}, version: "2.0.0-oot"})
		r := n.run(nextBoot, conf)
		n.wantCode(r, 0)
		n.wantLog(r, "(the running kernel): fetching image 'registry.example.com/acme/ice-kmod-v2:"+k1+"'")
		n.boot(k1, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 2.0.0-oot")
		n.wantCode(n.run("pull.sh", conf), 0)
		n.wantReboots(1)
		n.wantStatus("ice", map[string]string{"loaded": "oot", "digest": digestB, "prefetch_result": "fetched"})
	}},
	{"registry unreachable: retries end before the bound, nothing changes, the next boot's gate fetches", func(t *testing.T, n *node) {
		conf := n.config(shutdownConfig())
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.addImage(iceRepo+":"+k2, digestB, image{kernels: []string{k2}})
		n.pullAndBoot(conf, "ice")
		n.stageDeployment(k2)
		start := n.now()
		r := n.run(nextBoot, conf, "FAKE_PULL_FAILS=1000")
		n.wantCode(r, 0)
		if took := n.now() - start; took > 60 {
			t.Errorf("the shutdown waited %d s, more than the bound of 60 s", took)
		}
		n.wantLog(r, "warning: next boot: gave up after ", "(maxShutdownDelay 60s): could not pull image '"+iceRepo+":"+k2+"'; nothing changed, the next boot's gate fetches it")
		n.wantAbsent(n.state("ice", k2))
		if len(n.temps("ice")) > 0 || len(n.stored()) > 0 {
			t.Errorf("left behind: %v %v", n.temps("ice"), n.stored())
		}
		if got := n.prefetchRecord("ice"); got["result"] != "gave-up" || got["kernel"] != k2 {
			t.Errorf("prefetch record %v", got)
		}
		// The next boot: the fallback, today's gate fetch and its reboot.
		n.bootDeployment(k2, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "in-tree")
		n.wantStatus("ice", map[string]string{"prefetch_result": "gave-up", "prefetch_kernel": k2})
		n.pullAndBoot(conf, "ice")
		n.wantCode(n.run("load.sh", conf), 0)
		n.wantModule("ice", "oot 1.2.3-oot")
	}},
	{"network down: no route to the registry, the shutdown does not wait", func(t *testing.T, n *node) {
		conf := n.config(iceConfig())
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.addImage(iceRepo+":"+k2, digestB, image{kernels: []string{k2}})
		n.pullAndBoot(conf, "ice")
		n.stageDeployment(k2)
		r := n.run(nextBoot, conf, "FAKE_NO_ROUTE=1")
		n.wantCode(r, 0)
		n.wantLog(r, "warning: next boot: no route to 'registry.example.com' (192.0.2.10) (the network is down): not fetching; the next boot's gate fetches it")
		n.wantCalls(r, "podman")
		n.wantCalls(r, "sleep")
		if got := n.prefetchRecord("ice"); got["result"] != "skipped" {
			t.Errorf("prefetch record %v", got)
		}
		r = n.run(nextBoot, conf, "FAKE_NO_DNS=1")
		n.wantLog(r, "next boot: cannot resolve 'registry.example.com' (the network is down)")
		n.wantCalls(r, "podman")
	}},
	{"an image that cannot work for the next kernel: said at shutdown, no retry, nothing committed", func(t *testing.T, n *node) {
		conf := n.config(iceConfig())
		n.addImage(iceRepo+":"+k1, digestA, image{kernels: []string{k1}})
		n.addImage(iceRepo+":"+k2, digestB, image{kernels: []string{k1}}) // no tree for k2
		n.pullAndBoot(conf, "ice")
		n.stageDeployment(k2)
		r := n.run(nextBoot, conf)
		n.wantCode(r, 0)
		n.wantLog(r, "has no /opt/lib/modules/"+k2+" for the running kernel", "warning: next boot: image '"+iceRepo+":"+k2+"' (digest "+digestB+") cannot work for kernel "+k2)
		n.wantCalls(r, "sleep")
		n.wantAbsent(n.state("ice", k2))
		if got := n.prefetchRecord("ice"); got["result"] != "unusable" {
			t.Errorf("prefetch record %v", got)
		}
	}},
	{"maxShutdownDelay 0s: nothing is looked at", func(t *testing.T, n *node) {
		c := iceConfig()
		c.MaxShutdownDelay = PrefetchOff
		conf := n.config(c)
		n.stageDeployment(k2)
		r := n.run(nextBoot, conf)
		n.wantCode(r, 0)
		n.wantLog(r, "next boot: maxShutdownDelay is 0: not fetching at shutdown")
		n.wantCalls(r, "ostree")
		n.wantCalls(r, "podman")
	}},
}

func TestNextBoot(t *testing.T) {
	for _, sc := range prefetch {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t, newNode(t, k1, "ice"))
		})
	}
}
