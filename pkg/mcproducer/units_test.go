package mcproducer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireTool skips when a checker is missing on a developer's machine; in
// CI (CI set) a missing checker fails, so a green run means it ran.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// TestUnitsPassSystemdAnalyze writes every file and unit of the config into
// a root directory, as Ignition would, and has systemd verify each unit
// there, dependencies included. systemd-analyze exits 0 on unknown keys, so any output fails.
func TestUnitsPassSystemdAnalyze(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
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
