package machineconfig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/day1kmod/day1kmod/internal/testtools"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// TestUnitsPassSystemdAnalyze writes every file and unit of the config into
// a root directory, as Ignition would, and has systemd verify each unit
// there, dependencies included. systemd-analyze exits 0 on unknown keys, so any output fails.
func TestUnitsPassSystemdAnalyze(t *testing.T) {
	analyze := testtools.Path(t, "systemd-analyze")
	for name, c := range outputCases() {
		t.Run(name, func(t *testing.T) {
			d := c.WithDefaults()
			dec := decode(t, produce(t, c), d.IgnitionVersion)
			root := t.TempDir()
			for p, f := range dec.files {
				dst := filepath.Join(root, p)
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, contents(t, f), os.FileMode(*f.Mode)); err != nil {
					t.Fatal(err)
				}
			}
			// The units name targets and services of the distribution
			// (sysinit.target, network-pre.target, ...): systemd resolves
			// them inside the root, so the host's unit files go there too.
			if err := os.MkdirAll(filepath.Join(root, "lib/systemd"), 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("cp", "-a", "/lib/systemd/system", filepath.Join(root, "lib/systemd/")).CombinedOutput(); err != nil {
				t.Fatalf("copying the host's units: %v\n%s", err, out)
			}
			unitDir := filepath.Join(root, "etc/systemd/system")
			if err := os.MkdirAll(unitDir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, u := range dec.units {
				if err := os.WriteFile(filepath.Join(unitDir, u.Name), []byte(*u.Contents), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, u := range dec.units {
				cmd := exec.Command(analyze, "verify", "--root="+root, "/etc/systemd/system/"+u.Name)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				if err != nil || strings.TrimSpace(out.String()) != "" {
					t.Errorf("systemd-analyze verify %s: %v\n%s", u.Name, err, out.String())
				}
			}
		})
	}
}

// unitOptions parses a generated unit with go-systemd's parser: section/key -> values.
func unitOptions(t *testing.T, contents string) map[string][]string {
	t.Helper()
	opts, err := unit.Deserialize(strings.NewReader(contents))
	if err != nil {
		t.Fatalf("parsing the unit: %v\n%s", err, contents)
	}
	m := map[string][]string{}
	for _, o := range opts {
		m[o.Section+"/"+o.Name] = append(m[o.Section+"/"+o.Name], o.Value)
	}
	return m
}

// parseSystemdTime reads the "Nmin" / "Ns" values the generator writes.
func parseSystemdTime(t *testing.T, v string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(strings.Replace(v, "min", "m", 1))
	if err != nil || d <= 0 {
		t.Fatalf("TimeoutStartSec=%q is not a finite time: %v", v, err)
	}
	return d
}

func TestUnitsOrdering(t *testing.T) {
	const n = "ice"
	load, gate, fetch := unitOptions(t, loadUnit(n)), unitOptions(t, pullUnit(n)), unitOptions(t, fetchUnit(n))
	prefetch := unitOptions(t, prefetchUnit(n))
	want := func(unitName string, m map[string][]string, key string, values ...string) {
		t.Helper()
		if got := m[key]; strings.Join(got, "|") != strings.Join(values, "|") {
			t.Errorf("%s %s = %q, want %q", unitName, key, got, values)
		}
	}
	// The load unit: before the network, bounded at 10 minutes at most.
	want("load", load, "Unit/Before", "network-pre.target shutdown.target")
	want("load", load, "Unit/DefaultDependencies", "no")
	if d := parseSystemdTime(t, load["Service/TimeoutStartSec"][0]); d > 10*time.Minute || d != nodescripts.LoadTimeout {
		t.Errorf("load TimeoutStartSec %s: want nodescripts.LoadTimeout, at most 10 min", d)
	}
	// The gate: after the network and the MCD's firstboot service (which
	// rebases and reboots on the install boot), before the kubelet; not on
	// the install boot; no restarts; a bound above the largest delay.
	want("gate", gate, "Unit/Wants", "network-online.target")
	want("gate", gate, "Unit/After", "network-online.target machine-config-daemon-firstboot.service day1kmod-load-ice.service")
	want("gate", gate, "Unit/Before", "kubelet-dependencies.target kubelet.service")
	want("gate", gate, "Unit/ConditionPathExists", "!/etc/ignition-machine-config-encapsulated.json")
	want("gate", gate, "Service/Type", "oneshot")
	want("gate", gate, "Service/RemainAfterExit", "yes")
	want("gate", gate, "Service/ExecStart", "/usr/local/bin/day1kmod-ice-pull.sh /etc/day1kmod/ice.conf")
	want("gate", gate, "Install/WantedBy", "multi-user.target")
	if d := parseSystemdTime(t, gate["Service/TimeoutStartSec"][0]); d <= nodescripts.MaxMaxKubeletDelay {
		t.Errorf("gate TimeoutStartSec %s: want above the largest maxKubeletDelay %s", d, nodescripts.MaxMaxKubeletDelay)
	}
	// The fetch: started by the gate, never at boot by itself, never
	// restarted by systemd (it backs off by itself).
	want("fetch", fetch, "Unit/After", "network-online.target")
	want("fetch", fetch, "Service/ExecStart", "/usr/local/bin/day1kmod-ice-fetch.sh /etc/day1kmod/ice.conf")
	want("fetch", fetch, "Install/WantedBy")
	// The prefetch: its stop is the work. At shutdown systemd stops units in
	// the reverse order of starting them: it runs after the kubelet, the
	// MCD's firstboot service, the gate and the fetch stopped, and before
	// the network (and ostree's finalization, by its own ordering); bounded above the largest
	// maxShutdownDelay, so that the script's own bound ends it.
	want("prefetch", prefetch, "Unit/Wants", "network-online.target")
	want("prefetch", prefetch, "Unit/After", "network-online.target network.target")
	want("prefetch", prefetch, "Unit/Before", "kubelet.service kubelet-dependencies.target machine-config-daemon-firstboot.service "+
		"day1kmod-pull-ice.service day1kmod-fetch-ice.service")
	// ostree-finalize-staged.service is Before=basic.target: a Before= of it
	// would close an ordering cycle with the default After=basic.target, and
	// systemd would drop the prefetch's stop job to break it.
	if strings.Contains(strings.Join(append(prefetch["Unit/Before"], prefetch["Unit/After"]...), " "), "ostree-finalize-staged") ||
		prefetch["Unit/DefaultDependencies"] != nil {
		t.Errorf("the prefetch unit is ordered against ostree-finalize-staged.service or changes its default dependencies")
	}
	want("prefetch", prefetch, "Service/Type", "oneshot")
	want("prefetch", prefetch, "Service/RemainAfterExit", "yes")
	want("prefetch", prefetch, "Service/ExecStart")
	want("prefetch", prefetch, "Service/ExecStop", "/usr/local/bin/day1kmod-ice-fetch.sh --next-boot /etc/day1kmod/ice.conf")
	want("prefetch", prefetch, "Install/WantedBy", "multi-user.target")
	if d := parseSystemdTime(t, prefetch["Service/TimeoutStopSec"][0]); d <= nodescripts.MaxMaxShutdownDelay || d >= 30*time.Minute {
		t.Errorf("prefetch TimeoutStopSec %s: want above the largest maxShutdownDelay %s and below reboot.target's 30 min",
			d, nodescripts.MaxMaxShutdownDelay)
	}
	for name, m := range map[string]map[string][]string{"load": load, "gate": gate, "fetch": fetch, "prefetch": prefetch} {
		for _, k := range []string{"Service/Restart", "Service/RestartSec"} {
			if v, ok := m[k]; ok {
				t.Errorf("%s has %s=%v: a restart loop is what the node lifecycle avoids", name, k, v)
			}
		}
	}
	// Every ordering line says, in a comment right above it, what it waits
	// for and why.
	for name, contents := range map[string]string{"load": loadUnit(n), "gate": pullUnit(n), "fetch": fetchUnit(n), "prefetch": prefetchUnit(n)} {
		lines := strings.Split(contents, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "After=") || strings.HasPrefix(l, "Before=") || strings.HasPrefix(l, "ConditionPathExists=") {
				if i == 0 || !strings.HasPrefix(lines[i-1], "# ") {
					t.Errorf("%s: %q has no comment above it", name, l)
				}
			}
		}
	}
}
