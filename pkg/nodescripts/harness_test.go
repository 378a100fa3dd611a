package nodescripts

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The behaviour tests run the real scripts with bash against a temporary
// root (DAY1KMOD_ROOT) with the fake host tools of testdata/fakebin first on
// PATH. A node is that root plus the fakes' state (FAKE_DIR): the call log,
// the fake registry and container storage.

const (
	k1 = "5.14.0-284.30.1.el9_2.x86_64"
	k2 = "5.14.0-362.8.1.el9_3.x86_64"
)

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
)

// Modules every fake host kernel has in-tree.
var hostModules = []string{"ice", "irdma", "e1000e"}

// Symbols every fake host kernel exports itself (vmlinux).
var hostKernelSymbols = []string{"printk", "kmalloc", "request_firmware"}

type node struct {
	t      *testing.T
	root   string // DAY1KMOD_ROOT
	fake   string // FAKE_DIR
	kernel string // what uname -r prints
	knobs  []string
}

func newNode(t *testing.T, kernel string, loaded ...string) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{t: t, root: filepath.Join(dir, "root"), fake: filepath.Join(dir, "fake")}
	n.mkdir(n.fake)
	for _, k := range []string{k1, k2} {
		moddir := filepath.Join(n.root, "lib/modules", k)
		for _, m := range hostModules {
			n.writeModule(moddir, "kernel/drivers/net/"+m+".ko",
				moduleFile{vermagic: k + " SMP preempt mod_unload modversions", version: "in-tree", srcversion: "INTREE" + strings.ToUpper(m)})
		}
		// An in-tree module others depend on, the kernel's exported
		// symbols (RHCOS ships them as symvers.gz) and its built-in modules.
		n.writeModule(moddir, "kernel/drivers/infiniband/core/ib_core.ko",
			moduleFile{vermagic: k + " SMP preempt mod_unload modversions", version: "in-tree", srcversion: "INTREEIBCORE", exports: "ib_register_device ib_unregister_device"})
		var symvers bytes.Buffer
		zw := gzip.NewWriter(&symvers)
		for _, sym := range hostKernelSymbols {
			fmt.Fprintf(zw, "0x12345678\t%s\tvmlinux\tEXPORT_SYMBOL\n", sym)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		n.write(filepath.Join(moddir, "symvers.gz"), symvers.String())
		n.write(filepath.Join(moddir, "modules.builtin"), "kernel/drivers/net/mii.ko\n")
	}
	n.boot(kernel, loaded...)
	return n
}

func (n *node) mkdir(p string) {
	n.t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) write(p, content string) {
	n.t.Helper()
	n.mkdir(filepath.Dir(p))
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) read(p string) string {
	n.t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		n.t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// moduleFile is a fake .ko: key=value text that the fake modinfo and
// modprobe read.
// needs and exports are space-separated symbols (for the fake depmod);
// signer is empty for an unsigned module.
type moduleFile struct{ vermagic, version, srcversion, needs, exports, signer string }

// writeModule writes a module file under moddir (lib/modules/K) and, unless
// noDep, lists it in modules.dep.
func (n *node) writeModule(moddir, rel string, m moduleFile, noDep ...bool) {
	n.t.Helper()
	n.write(filepath.Join(moddir, rel),
		"vermagic="+m.vermagic+"\nversion="+m.version+"\nsrcversion="+m.srcversion+"\n"+
			"needs="+m.needs+"\nexports="+m.exports+"\nsigner="+m.signer+"\n")
	if len(noDep) > 0 && noDep[0] {
		return
	}
	f, err := os.OpenFile(filepath.Join(moddir, "modules.dep"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(rel + ":\n"); err != nil {
		n.t.Fatal(err)
	}
	n.write(filepath.Join(moddir, "modules.dep.bin"), "binary index\n")
}

// boot plays a (re)boot into kernel: the kernel's module state, the
// firmware search path, /run and the units' states start afresh, and udev
// loads the in-tree modules given.
func (n *node) boot(kernel string, loaded ...string) {
	n.t.Helper()
	n.kernel = kernel
	for _, p := range []string{filepath.Join(n.root, "proc"), filepath.Join(n.root, "sys"), filepath.Join(n.root, "run"), filepath.Join(n.fake, "state")} {
		if err := os.RemoveAll(p); err != nil {
			n.t.Fatal(err)
		}
	}
	n.write(filepath.Join(n.root, "proc/modules"), "")
	n.write(filepath.Join(n.root, "sys/module/firmware_class/parameters/path"), "\n")
	for _, m := range loaded {
		if out, err := n.command("modprobe", m).CombinedOutput(); err != nil {
			n.t.Fatalf("loading in-tree %s: %v\n%s", m, err, out)
		}
	}
}

// image is an image in the fake registry.
type image struct {
	kernels    []string          // /opt/lib/modules/K for each
	module     string            // default "ice"
	extra      []string          // further modules in the same tree, of the same version
	version    string            // default "1.2.3-oot"
	vermagicOf map[string]string // per kernel; default the kernel itself
	noDep      bool              // no modules.dep nor modules.dep.bin in the image
	noDepBin   bool              // modules.dep but no modules.dep.bin
	firmware   map[string]string // path inside the image -> content
	symlinks   map[string]string // path inside the image -> link target
	needs      string            // symbols the module needs (space-separated)
	signer     string            // who signed the module; empty: unsigned
}

// imageRoot is the file system of image ref in the fake registry.
func (n *node) imageRoot(ref string) string {
	return filepath.Join(n.fake, "registry", strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(ref), "rootfs")
}

func (n *node) addImage(ref, digest string, img image) {
	n.t.Helper()
	dir := filepath.Dir(n.imageRoot(ref))
	n.write(filepath.Join(dir, "digest"), digest+"\n")
	n.mkdir(filepath.Join(dir, "rootfs/opt/lib/modules"))
	if img.module == "" {
		img.module = "ice"
	}
	if img.version == "" {
		img.version = "1.2.3-oot"
	}
	for _, k := range img.kernels {
		vm := k
		if v, ok := img.vermagicOf[k]; ok {
			vm = v
		}
		for _, m := range append([]string{img.module}, img.extra...) {
			n.writeModule(filepath.Join(dir, "rootfs/opt/lib/modules", k), "extra/"+m+".ko",
				moduleFile{vermagic: vm + " SMP preempt mod_unload modversions", version: img.version, srcversion: oot(m, img.version), needs: img.needs, signer: img.signer}, img.noDep)
		}
	}
	if img.noDepBin {
		for _, k := range img.kernels {
			if err := os.Remove(filepath.Join(dir, "rootfs/opt/lib/modules", k, "modules.dep.bin")); err != nil {
				n.t.Fatal(err)
			}
		}
	}
	for p, c := range img.firmware {
		n.write(filepath.Join(dir, "rootfs", p), c)
	}
	for p, target := range img.symlinks {
		n.mkdir(filepath.Dir(filepath.Join(dir, "rootfs", p)))
		if err := os.Symlink(target, filepath.Join(dir, "rootfs", p)); err != nil {
			n.t.Fatal(err)
		}
	}
}

// oot is the srcversion of an out-of-tree module built by addImage.
func oot(module, version string) string { return "OOT-" + module + "-" + version }

// config renders c with Render, as the producer does, and installs it.
func (n *node) config(c Config) string {
	n.t.Helper()
	b, err := c.Render()
	if err != nil {
		n.t.Fatal(err)
	}
	p := filepath.Join(n.root, "etc/day1kmod", c.Name+".conf")
	n.write(p, string(b))
	return p
}

func iceConfig() Config {
	return Config{
		Name:          "ice",
		Image:         "registry.example.com/acme/ice-kmod:" + KernelVersionPlaceholder,
		Module:        "ice",
		InTreeModules: []string{"ice"},
		Parameters:    []string{"debug=1", "enable"},
	}
}

// Paths on the test node.
func (n *node) state(parts ...string) string {
	return filepath.Join(append([]string{n.root, "var/lib/day1kmod"}, parts...)...)
}
func (n *node) sys(module, attr string) string {
	b, err := os.ReadFile(filepath.Join(n.root, "sys/module", module, attr))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (n *node) command(name string, args ...string) *exec.Cmd {
	fakebin, err := filepath.Abs("testdata/fakebin")
	if err != nil {
		n.t.Fatal(err)
	}
	scripts, err := filepath.Abs(".")
	if err != nil {
		n.t.Fatal(err)
	}
	real := map[string]string{}
	for _, tool := range []string{"cp", "sleep", "date"} {
		if real[tool], err = exec.LookPath(tool); err != nil {
			n.t.Fatal(err)
		}
	}
	if !strings.Contains(name, "/") {
		name = filepath.Join(fakebin, name)
	}
	cmd := exec.Command(name, args...)
	// A minimal environment: nothing of the test runner's (proxies...) leaks in.
	cmd.Env = append([]string{
		"PATH=" + fakebin + ":" + os.Getenv("PATH"),
		"DAY1KMOD_ROOT=" + n.root,
		"FAKE_DIR=" + n.fake,
		"FAKE_KERNEL=" + n.kernel,
		"FAKE_REAL_CP=" + real["cp"],
		"FAKE_REAL_SLEEP=" + real["sleep"],
		"FAKE_REAL_DATE=" + real["date"],
		"FAKE_SCRIPTS=" + scripts,
		"LC_ALL=C",
	}, n.knobs...)
	return cmd
}

type result struct {
	code   int  // exit status; -1 when killed by a signal
	killed bool // killed by a signal
	stderr string
	calls  []string // the fakes' calls, with the root shown as $ROOT
}

// run runs script (load.sh, pull.sh or fetch.sh) of this directory with
// bash on conf, with the node's knobs plus extra ones ("FAKE_...=..."). An
// absolute script path is executed directly, as systemd does. While the
// gate (pull.sh) runs, the fake systemd shows its unit activating, then
// active or failed.
func (n *node) run(script, conf string, knobs ...string) result {
	n.t.Helper()
	calls := filepath.Join(n.fake, "calls.log")
	n.write(calls, "")
	cmd := n.scriptCommand(script, conf, knobs...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	gate := ""
	if strings.HasSuffix(script, "pull.sh") {
		gate = PullUnit(strings.TrimSuffix(filepath.Base(conf), ".conf"))
		n.unitState(gate, "activating")
	}
	err := cmd.Run()
	r := result{stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
		r.killed = r.code == -1
	default:
		n.t.Fatalf("running %s: %v", script, err)
	}
	if gate != "" {
		if r.code == 0 {
			n.unitState(gate, "active")
		} else {
			n.unitState(gate, "failed")
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(n.read(calls)), "\n") {
		if l != "" {
			r.calls = append(r.calls, strings.ReplaceAll(strings.ReplaceAll(l, n.root, "$ROOT"), n.fake, "$FAKE"))
		}
	}
	n.t.Logf("%s %s: exit %d\n%s", script, filepath.Base(conf), r.code, r.stderr)
	return r
}

// unitState sets what the fake systemctl says of unit (is-active).
func (n *node) unitState(unit, state string) {
	n.t.Helper()
	n.write(filepath.Join(n.fake, "state", unit), state+"\n")
}

// start starts script in the background, like run; wait returns its exit
// status and output.
func (n *node) start(script, conf string, knobs ...string) (wait func() (int, string)) {
	n.t.Helper()
	cmd := n.scriptCommand(script, conf, knobs...)
	var out strings.Builder
	cmd.Stderr, cmd.Stdout = &out, &out
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	return func() (int, string) {
		err := cmd.Wait()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			n.t.Fatal(err)
		}
		n.t.Logf("%s (background) %s: exit %d\n%s", script, filepath.Base(conf), code, out.String())
		return code, out.String()
	}
}

// scriptCommand: script may carry arguments before conf
// ("fetch.sh --next-boot").
func (n *node) scriptCommand(script, conf string, knobs ...string) *exec.Cmd {
	n.t.Helper()
	var cmd *exec.Cmd
	words := strings.Fields(script)
	args := append(words[1:], conf)
	if filepath.IsAbs(words[0]) {
		cmd = n.command(words[0], args...)
	} else {
		abs, err := filepath.Abs(words[0])
		if err != nil {
			n.t.Fatal(err)
		}
		cmd = n.command("/bin/bash", append([]string{abs}, args...)...)
	}
	cmd.Env = append(cmd.Env, knobs...)
	return cmd
}

// of returns the calls of one fake command, e.g. r.of("modprobe").
func (r result) of(cmd string) []string {
	var out []string
	for _, c := range r.calls {
		if c == cmd || strings.HasPrefix(c, cmd+" ") {
			out = append(out, c)
		}
	}
	return out
}

// Assertions.

func (n *node) wantCode(r result, code int) {
	n.t.Helper()
	if r.code != code {
		n.t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
}

func (n *node) wantLog(r result, parts ...string) {
	n.t.Helper()
	for _, p := range parts {
		if !strings.Contains(r.stderr, p) {
			n.t.Errorf("log lacks %q:\n%s", p, r.stderr)
		}
	}
}

func (n *node) wantNoLog(r result, parts ...string) {
	n.t.Helper()
	for _, p := range parts {
		if strings.Contains(r.stderr, p) {
			n.t.Errorf("log has %q:\n%s", p, r.stderr)
		}
	}
}

func (n *node) wantCalls(r result, cmd string, want ...string) {
	n.t.Helper()
	got := r.of(cmd)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		n.t.Errorf("%s calls:\n  %s\nwant:\n  %s", cmd, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (n *node) wantExists(paths ...string) {
	n.t.Helper()
	for _, p := range paths {
		if !exists(p) {
			n.t.Errorf("%s is missing", p)
		}
	}
}

func (n *node) wantAbsent(paths ...string) {
	n.t.Helper()
	for _, p := range paths {
		if exists(p) {
			n.t.Errorf("%s exists", p)
		}
	}
}

// reboots counts the fake `systemctl reboot`s since the node was created.
func (n *node) reboots() int {
	b, err := os.ReadFile(filepath.Join(n.fake, "reboots"))
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "reboot")
}

func (n *node) wantReboots(want int) {
	n.t.Helper()
	if got := n.reboots(); got != want {
		n.t.Errorf("%d reboots, want %d", got, want)
	}
}

// temps lists the temporary trees and links left in the state directory
// of name, and the trees no link names.
func (n *node) temps(name string) []string {
	m, _ := filepath.Glob(n.state(name, ".tmp-*"))
	l, _ := filepath.Glob(n.state(name, ".link-*"))
	m = append(m, l...)
	used := map[string]bool{}
	links, _ := filepath.Glob(n.state(name, "*"))
	for _, p := range links {
		if t, err := os.Readlink(p); err == nil {
			used[t] = true
		}
	}
	trees, _ := filepath.Glob(n.state(name, ".tree-*"))
	for _, p := range trees {
		if !used[filepath.Base(p)] {
			m = append(m, p)
		}
	}
	return m
}

// stored lists the images in the fake container storage.
func (n *node) stored() []string {
	m, _ := filepath.Glob(filepath.Join(n.fake, "store", "*"))
	sort.Strings(m)
	return m
}

// loadedModules is /proc/modules' first column.
func (n *node) loadedModules() []string {
	var out []string
	for _, l := range strings.Split(n.read(filepath.Join(n.root, "proc/modules")), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// which tells which ice-like module is loaded: "oot <version>", "in-tree"
// or "" when not loaded.
func (n *node) which(module string) string {
	v := n.sys(module, "srcversion")
	switch {
	case v == "":
		return ""
	case strings.HasPrefix(v, "INTREE"):
		return "in-tree"
	default:
		return "oot " + n.sys(module, "version")
	}
}

func (n *node) wantModule(module, want string) {
	n.t.Helper()
	if got := n.which(module); got != want {
		n.t.Errorf("module %s: %q loaded, want %q", module, got, want)
	}
}

// pullAndBoot runs the gate of a boot that must fetch for conf (the fetch
// finishes in time, so the gate reboots) and boots again into the same
// kernel with the in-tree modules given.
func (n *node) pullAndBoot(conf string, loaded ...string) {
	n.t.Helper()
	before := n.reboots()
	r := n.run("pull.sh", conf)
	n.wantCode(r, 0)
	if n.reboots() != before+1 {
		n.t.Fatalf("pull did not reboot:\n%s", r.stderr)
	}
	n.boot(n.kernel, loaded...)
}

// status reads the status file of name as a map.
func (n *node) status(name string) map[string]string {
	n.t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(n.read(filepath.Join(n.root, StatusPath(name))), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			out[k] = v
		}
	}
	return out
}

func (n *node) wantStatus(name string, want map[string]string) {
	n.t.Helper()
	got := n.status(name)
	for k, v := range want {
		if got[k] != v {
			n.t.Errorf("status %s=%q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// reManifest writes the manifest of the tree at dir again, as the fetch
// would have for what it holds now: a test that changes a tree on purpose
// (to reach the load's later checks) keeps it consistent.
func (n *node) reManifest(dir string) {
	n.t.Helper()
	if out, err := exec.Command("bash", "-c", `set -euo pipefail; . ./lib.sh; write_manifest "$1"`, "bash", dir).CombinedOutput(); err != nil {
		n.t.Fatalf("write_manifest %s: %v\n%s", dir, err, out)
	}
}
