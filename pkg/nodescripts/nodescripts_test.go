package nodescripts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const kvPlaceholder = "${KERNEL_FULL_VERSION}"

func goodConfig() Config {
	return Config{
		Name:          "ice",
		Image:         "registry.example.com/acme/ice-kmod:" + kvPlaceholder,
		Module:        "ice",
		InTreeModules: []string{"ice"},
		Parameters:    []string{"debug=1", "enable"},
		FirmwarePath:  "/firmware",
	}
}

func TestRenderFormat(t *testing.T) {
	got, err := goodConfig().Render()
	if err != nil {
		t.Fatal(err)
	}
	want := `# day1kmod configuration for ice.
# Generated: the node scripts read these key=value lines as data, never as shell code.
format=1
name=ice
image=registry.example.com/acme/ice-kmod:${KERNEL_FULL_VERSION}
module=ice
in_tree_modules=ice
module_parameters=debug=1 enable
firmware_path=/firmware
max_kubelet_delay=300
reboot_policy=BeforeKubelet
max_shutdown_delay=300
`
	if string(got) != want {
		t.Errorf("Render() =\n%s\nwant\n%s", got, want)
	}
	again, _ := goodConfig().Render()
	if !bytes.Equal(got, again) {
		t.Error("Render is not deterministic")
	}
}

func TestRenderGood(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"as given":           func(*Config) {},
		"empty lists":        func(c *Config) { c.InTreeModules, c.Parameters = nil, []string{} },
		"no firmware":        func(c *Config) { c.FirmwarePath = "" },
		"several in-tree":    func(c *Config) { c.InTreeModules = []string{"ice", "irdma", "snd-hda_intel"} },
		"name with dots":     func(c *Config) { c.Name = "ice.v2_x-1" },
		"fixed tag":          func(c *Config) { c.Image = "registry.example.com/acme/ice-kmod:1.2.3" },
		"no registry":        func(c *Config) { c.Image = "acme/ice:" + kvPlaceholder },
		"registry with port": func(c *Config) { c.Image = "registry.example.com:5000/a/b/c:v1" },
		"digest": func(c *Config) {
			c.Image = "registry.example.com/acme/ice@sha256:" + strings.Repeat("ab", 32)
		},
		"tag and digest": func(c *Config) {
			c.Image = "registry.example.com/acme/ice:v1@sha256:" + strings.Repeat("0", 64)
		},
		"placeholder inside tag": func(c *Config) { c.Image = "registry.example.com/acme/ice:v1-" + kvPlaceholder },
		"param value chars":      func(c *Config) { c.Parameters = []string{"a=/x/y.z,1:2+3-4_5", "b="} },
		"firmware dots in names": func(c *Config) { c.FirmwarePath = "/lib/firmware/intel/ice.ddp/v1.2" },
		"shortest delay":         func(c *Config) { c.MaxKubeletDelay = MinMaxKubeletDelay },
		"longest delay":          func(c *Config) { c.MaxKubeletDelay = MaxMaxKubeletDelay },
		"policy Always":          func(c *Config) { c.RebootPolicy = RebootAlways },
		"policy Never":           func(c *Config) { c.RebootPolicy = RebootNever },
	} {
		t.Run(name, func(t *testing.T) {
			c := goodConfig()
			mod(&c)
			if _, err := c.Render(); err != nil {
				t.Errorf("Render(%+v): %v", c, err)
			}
		})
	}
}

func TestRenderRejects(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"empty name":                func(c *Config) { c.Name = "" },
		"name leading dot":          func(c *Config) { c.Name = ".ice" },
		"name with slash":           func(c *Config) { c.Name = "a/b" },
		"name with newline":         func(c *Config) { c.Name = "ice\nimage=evil" },
		"name with space":           func(c *Config) { c.Name = "ice x" },
		"empty image":               func(c *Config) { c.Image = "" },
		"image with newline":        func(c *Config) { c.Image = "registry.example.com/a/b:v1\nmodule=evil" },
		"image with space":          func(c *Config) { c.Image = "registry.example.com/a/b:v1 x" },
		"image with NUL":            func(c *Config) { c.Image = "registry.example.com/a/b:v1\x00" },
		"image with command":        func(c *Config) { c.Image = "registry.example.com/a/b:$(reboot)" },
		"image other variable":      func(c *Config) { c.Image = "registry.example.com/a/b:${HOME}" },
		"image uppercase path":      func(c *Config) { c.Image = "registry.example.com/Acme/b:v1" },
		"image short digest":        func(c *Config) { c.Image = "registry.example.com/a/b@sha256:abc" },
		"image placeholder digest":  func(c *Config) { c.Image = "registry.example.com/a/b@sha256:" + kvPlaceholder },
		"image trailing colon":      func(c *Config) { c.Image = "registry.example.com/a/b:" },
		"empty module":              func(c *Config) { c.Module = "" },
		"module as an option":       func(c *Config) { c.Module = "-r" },
		"in-tree as an option":      func(c *Config) { c.InTreeModules = []string{"--force"} },
		"param as an option":        func(c *Config) { c.Parameters = []string{"-v"} },
		"image as an option":        func(c *Config) { c.Image = "--tls-verify=false" },
		"module with dot":           func(c *Config) { c.Module = "ice.ko" },
		"module too long":           func(c *Config) { c.Module = strings.Repeat("m", 57) },
		"module with newline":       func(c *Config) { c.Module = "ice\n" },
		"in-tree with space":        func(c *Config) { c.InTreeModules = []string{"ice irdma"} },
		"in-tree empty element":     func(c *Config) { c.InTreeModules = []string{""} },
		"in-tree with tab":          func(c *Config) { c.InTreeModules = []string{"ice\tx"} },
		"param with space":          func(c *Config) { c.Parameters = []string{"a=1 b=2"} },
		"param empty":               func(c *Config) { c.Parameters = []string{""} },
		"param quote":               func(c *Config) { c.Parameters = []string{`a="x"`} },
		"param semicolon":           func(c *Config) { c.Parameters = []string{"a=1;reboot"} },
		"param dollar":              func(c *Config) { c.Parameters = []string{"a=$x"} },
		"param newline":             func(c *Config) { c.Parameters = []string{"a=1\nname=x"} },
		"param no name":             func(c *Config) { c.Parameters = []string{"=1"} },
		"firmware relative":         func(c *Config) { c.FirmwarePath = "firmware" },
		"firmware dotdot":           func(c *Config) { c.FirmwarePath = "/firmware/../etc" },
		"firmware trailing dotdot":  func(c *Config) { c.FirmwarePath = "/firmware/.." },
		"firmware space":            func(c *Config) { c.FirmwarePath = "/my firmware" },
		"firmware newline":          func(c *Config) { c.FirmwarePath = "/fw\nname=x" },
		"firmware NUL":              func(c *Config) { c.FirmwarePath = "/fw\x00" },
		"firmware shell characters": func(c *Config) { c.FirmwarePath = "/fw/$(id)" },
		"delay too short":           func(c *Config) { c.MaxKubeletDelay = 29 * time.Second },
		"delay too long":            func(c *Config) { c.MaxKubeletDelay = time.Hour + time.Second },
		"delay not whole seconds":   func(c *Config) { c.MaxKubeletDelay = 90*time.Second + time.Millisecond },
		"delay negative":            func(c *Config) { c.MaxKubeletDelay = -time.Minute },
		"policy unknown":            func(c *Config) { c.RebootPolicy = "Sometimes" },
		"policy lower case":         func(c *Config) { c.RebootPolicy = "always" },
		"policy with newline":       func(c *Config) { c.RebootPolicy = "Always\nname=x" },
	} {
		t.Run(name, func(t *testing.T) {
			c := goodConfig()
			mod(&c)
			out, err := c.Render()
			if err == nil {
				t.Fatalf("Render(%+v) = %q, want an error", c, out)
			}
			if out != nil {
				t.Errorf("Render returned output with an error: %q", out)
			}
		})
	}
}

func TestFilesAndPaths(t *testing.T) {
	files, err := Files(goodConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/etc/day1kmod/ice.conf",
		"/usr/local/bin/day1kmod-ice-lib.sh",
		"/usr/local/bin/day1kmod-ice-load.sh",
		"/usr/local/bin/day1kmod-ice-pull.sh",
		"/usr/local/bin/day1kmod-ice-fetch.sh",
	}
	if len(files) != len(want) {
		t.Fatalf("%d files, want %d", len(files), len(want))
	}
	for i, f := range files {
		if f.Path != want[i] {
			t.Errorf("file %d: path %s, want %s", i, f.Path, want[i])
		}
	}
	if got := LoadCommand("ice"); got != "/usr/local/bin/day1kmod-ice-load.sh /etc/day1kmod/ice.conf" {
		t.Errorf("LoadCommand = %q", got)
	}
	if got := PullCommand("ice"); got != "/usr/local/bin/day1kmod-ice-pull.sh /etc/day1kmod/ice.conf" {
		t.Errorf("PullCommand = %q", got)
	}
	if got := FetchCommand("ice"); got != "/usr/local/bin/day1kmod-ice-fetch.sh /etc/day1kmod/ice.conf" {
		t.Errorf("FetchCommand = %q", got)
	}
	if got := StatusPath("ice"); got != "/run/day1kmod/ice.status" {
		t.Errorf("StatusPath = %q", got)
	}
	// The scripts find the library by replacing their own suffix.
	for _, p := range []string{LoadPath("ice"), PullPath("ice"), FetchPath("ice")} {
		if lib := p[:strings.LastIndex(p, "-")] + "-lib.sh"; lib != LibPath("ice") {
			t.Errorf("%s would source %s, not %s", p, lib, LibPath("ice"))
		}
	}
	if _, err := Files(Config{Name: "bad name"}); err == nil {
		t.Error("Files accepted a bad config")
	}
}

// The embedded scripts are the files in this directory, and the state
// directory is named in lib.sh only.
func TestEmbedded(t *testing.T) {
	for name, got := range map[string]string{"lib.sh": Lib, "load.sh": Load, "pull.sh": Pull, "fetch.sh": Fetch} {
		disk, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(disk) || got == "" {
			t.Errorf("embedded %s differs from the file", name)
		}
		if !strings.Contains(got, "set -euo pipefail") && name != "lib.sh" {
			t.Errorf("%s lacks set -euo pipefail", name)
		}
		for _, dir := range []string{"/var/lib/day1kmod", RunDir} {
			if strings.Contains(got, dir) != (name == "lib.sh") {
				t.Errorf("%s: %s must be named in lib.sh only", name, dir)
			}
		}
		for _, bad := range []string{"eval ", "source \"$1\"", ". \"$1\""} {
			if strings.Contains(got, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
	if strings.Contains(Load, "podman") {
		t.Error("load.sh must not run podman")
	}
}

// shellcheck every script: the node scripts, the fakes and their library.
// A missing shellcheck fails the test everywhere (CI installs it, .ci/run):
// a green make test means the scripts were checked.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck is not installed, so the node scripts cannot be checked; install it, e.g. " +
			"apt-get install -y shellcheck (Debian, Ubuntu) or dnf install -y ShellCheck (Fedora)")
	}
	files := []string{"lib.sh", "load.sh", "pull.sh", "fetch.sh", "testdata/fakelib.sh"}
	fakes, err := filepath.Glob("testdata/fakebin/*")
	if err != nil || len(fakes) == 0 {
		t.Fatalf("no fakes found: %v", err)
	}
	files = append(files, fakes...)
	// -x follows the "source=" directives (relative to each script's
	// directory, by their source-path=SCRIPTDIR).
	cmd := exec.Command(sc, append([]string{"-x", "-f", "gcc"}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// The names the scripts derive are the ones Go gives the units and files.
func TestScriptsNameWhatGoNames(t *testing.T) {
	script := `. ./lib.sh; load_unit ice; gate_unit ice; fetch_unit ice; printf '%s\n' "$DAY1KMOD_RUN_DIR" "$FIRMWARE_DIR"`
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := strings.Join([]string{LoadUnit("ice"), PullUnit("ice"), FetchUnit("ice"), RunDir, FirmwareDir}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("lib.sh names:\n%s\nwant:\n%s", out, want)
	}
	if filepath.Dir(StatusPath("ice")) != RunDir {
		t.Errorf("StatusPath %s is not in RunDir", StatusPath("ice"))
	}
}

// shellInt reads "NAME=<integer>" from a script.
func shellInt(t *testing.T, script, name string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `=([0-9]+)`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no %s= in the script", name)
	}
	n, _ := strconv.Atoi(m[1])
	return time.Duration(n) * time.Second
}

// load.sh's time budget fits the load unit's TimeoutStartSec: the forward
// steps, the rollback, the last stop of each (TERM and KILL, each waited for
// KILL_GRACE) and two status writes that may each wait for the lock. Each
// step's own limit fits its phase.
func TestLoadBudgetFitsTheUnitTimeout(t *testing.T) {
	budget, rollback := shellInt(t, Load, "LOAD_BUDGET"), shellInt(t, Load, "ROLLBACK_BUDGET")
	grace, lock := shellInt(t, Lib, "KILL_GRACE"), shellInt(t, Lib, "STATUS_LOCK_WAIT")
	total := budget + rollback + 2*2*grace + 2*lock
	if total >= LoadTimeout {
		t.Errorf("load.sh may take %s, the unit allows %s", total, LoadTimeout)
	}
	for _, step := range []string{"LIMIT_VERIFY", "LIMIT_FIRMWARE", "LIMIT_LABEL", "LIMIT_SETTLE", "LIMIT_UNLOAD", "LIMIT_LOAD"} {
		if d := shellInt(t, Load, step); d > budget {
			t.Errorf("%s=%s exceeds LOAD_BUDGET=%s", step, d, budget)
		}
	}
	if d := shellInt(t, Load, "LIMIT_RELOAD"); d > rollback {
		t.Errorf("LIMIT_RELOAD=%s exceeds ROLLBACK_BUDGET=%s", d, rollback)
	}
	if GateTimeout <= MaxMaxKubeletDelay {
		t.Errorf("the gate's TimeoutStartSec %s must exceed the largest delay %s", GateTimeout, MaxMaxKubeletDelay)
	}
}
