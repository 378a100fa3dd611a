// Install-time Day 1 (examples/openshift-install): add-to-manifests.sh,
// with kpt and the built function, puts into the openshift/ directory of
// `openshift-install create manifests` one object per file, named
// 99_day1kmod_<kind>_<name>.yaml, each a MachineConfig (or MachineConfigPool)
// that strictly decodes into the openshift/api types and carries the role
// its nodes need; the installer's own files stay as they were.
package examples_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/day1kmod/day1kmod/function"
	"github.com/day1kmod/day1kmod/pkg/mcproducer"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const roleLabel = "machineconfiguration.openshift.io/role"

// installDir is a stand-in for `openshift-install create manifests` output:
// openshift/ holding one of the installer's own MachineConfigs.
func installDir(t *testing.T, ws string) (dir string, installerFiles map[string]string) {
	t.Helper()
	dir = filepath.Join(ws, "cluster")
	installerFiles = map[string]string{
		"openshift/99_openshift-machineconfig_99-worker-ssh.yaml": "apiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig\n" +
			"metadata:\n  labels:\n    machineconfiguration.openshift.io/role: worker\n  name: 99-worker-ssh\n" +
			"spec:\n  config:\n    ignition:\n      version: 3.2.0\n",
		"manifests/cluster-config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-config-v1\n  namespace: kube-system\n",
	}
	for f, c := range installerFiles {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, installerFiles
}

func addToManifests(t *testing.T, ws string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("examples/openshift-install/add-to-manifests.sh", args...)
	cmd.Dir = ws
	cmd.Env = append(os.Environ(), "KPT="+kpt(t), "DAY1KMOD=bin/day1kmod")
	return cmd.CombinedOutput()
}

func TestOpenShiftInstallManifests(t *testing.T) {
	for _, tc := range []struct {
		example string
		// file name in openshift/ -> the role label of the MachineConfig, or
		// "pool" for the MachineConfigPool
		files map[string]string
	}{
		{"worker.yaml", map[string]string{"99_day1kmod_machineconfig_99-worker-ice.yaml": "worker"}},
		// Control plane, and compact clusters: their nodes are in the master pool.
		{"master.yaml", map[string]string{"99_day1kmod_machineconfig_99-master-ice.yaml": "master"}},
		{"custom-pool.yaml", map[string]string{
			"99_day1kmod_machineconfig_99-ice-ice.yaml": "ice",
			"99_day1kmod_machineconfigpool_ice.yaml":    "pool",
		}},
	} {
		t.Run(strings.TrimSuffix(tc.example, ".yaml"), func(t *testing.T) {
			ws := workspace(t, "openshift-install")
			dir, installer := installDir(t, ws)
			if out, err := addToManifests(t, ws, "cluster", "examples/openshift-install/"+tc.example); err != nil {
				t.Fatalf("add-to-manifests.sh: %v\n%s", err, out)
			}
			got := readTree(t, dir)
			for f, c := range installer {
				if got[f] != c {
					t.Errorf("the installer's %s changed:\n%s", f, got[f])
				}
				delete(got, f)
			}
			var names []string
			for f := range got {
				names = append(names, f)
			}
			var want []string
			for f := range tc.files {
				want = append(want, "openshift/"+f)
			}
			slices.Sort(names)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Fatalf("added files %v, want %v", names, want)
			}
			var pool *mcfgv1.MachineConfigPool
			var mcRole string
			for f, role := range tc.files {
				content := got["openshift/"+f]
				// The installer reads one object per file.
				if strings.Contains(strings.TrimPrefix(content, "---\n"), "\n---") {
					t.Errorf("%s holds more than one document", f)
				}
				if role == "pool" {
					pool = &mcfgv1.MachineConfigPool{}
					decodeStrict(t, []byte(content), pool)
					checkGenerated(t, f, pool.Kind, "MachineConfigPool", pool.Annotations)
					continue
				}
				var mc mcfgv1.MachineConfig
				decodeStrict(t, []byte(content), &mc)
				checkGenerated(t, f, mc.Kind, "MachineConfig", mc.Annotations)
				if mc.APIVersion != mcfgv1.GroupVersion.String() {
					t.Errorf("%s: apiVersion %q", f, mc.APIVersion)
				}
				if mcRole = mc.Labels[roleLabel]; mcRole != role {
					t.Errorf("%s: role label %q, want %q", f, mcRole, role)
				}
				checkFirstBootUnits(t, f, mc.Spec.Config.Raw)
			}
			if pool != nil {
				// The pool takes its own MachineConfig and the workers' (its
				// nodes stay workers), and the nodes labelled with its role.
				sel, err := metav1.LabelSelectorAsSelector(pool.Spec.MachineConfigSelector)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range []string{mcRole, "worker"} {
					if !sel.Matches(labels.Set{roleLabel: r}) {
						t.Errorf("pool %s does not select MachineConfigs of role %s", pool.Name, r)
					}
				}
				if _, ok := pool.Spec.NodeSelector.MatchLabels["node-role.kubernetes.io/"+pool.Name]; !ok {
					t.Errorf("pool %s nodeSelector %v lacks node-role.kubernetes.io/%s", pool.Name, pool.Spec.NodeSelector, pool.Name)
				}
			}
		})
	}
}

// checkGenerated: the kind, and no annotation but day1kmod's (no kpt or
// kustomize bookkeeping reaches the cluster).
func checkGenerated(t *testing.T, file, kind, want string, annotations map[string]string) {
	t.Helper()
	if kind != want {
		t.Errorf("%s: kind %q, want %s", file, kind, want)
	}
	for k, v := range annotations {
		switch {
		case k == mcproducer.VersionAnnotation && kind == "MachineConfig":
			if v == "" {
				t.Errorf("%s: annotation %s is empty", file, k)
			}
		case k != function.SourceAnnotation:
			t.Errorf("%s: annotation %s", file, k)
		}
	}
	if annotations[function.SourceAnnotation] != "Day1KernelModule/ice" {
		t.Errorf("%s: %s = %q", file, function.SourceAnnotation, annotations[function.SourceAnnotation])
	}
}

// checkFirstBootUnits: the Ignition config written on a new node's first
// boot enables the load unit and the gate.
func checkFirstBootUnits(t *testing.T, file string, raw []byte) {
	t.Helper()
	var ign struct {
		Systemd struct {
			Units []struct {
				Name    string
				Enabled *bool
			}
		}
	}
	if err := json.Unmarshal(raw, &ign); err != nil {
		t.Fatalf("%s: spec.config: %v", file, err)
	}
	for _, u := range []string{nodescripts.LoadUnit("ice"), nodescripts.PullUnit("ice")} {
		i := slices.IndexFunc(ign.Systemd.Units, func(x struct {
			Name    string
			Enabled *bool
		}) bool {
			return x.Name == u
		})
		if i < 0 || ign.Systemd.Units[i].Enabled == nil || !*ign.Systemd.Units[i].Enabled {
			t.Errorf("%s: unit %s not enabled in the Ignition config", file, u)
		}
	}
}

// Bad input: an error naming the field, and nothing added; no openshift/
// directory: the command that makes it.
func TestOpenShiftInstallErrors(t *testing.T) {
	ws := workspace(t, "openshift-install")
	dir, _ := installDir(t, ws)
	before := readTree(t, dir)
	bad := filepath.Join(ws, "examples", "openshift-install", "bad.yaml")
	copyFile(t, filepath.Join(ws, "examples", "openshift-install", "master.yaml"), bad, 0o644)
	replaceInFile(t, bad, "kernelModuleName: ice", `kernelModuleName: "ice;reboot"`)
	out, err := addToManifests(t, ws, "cluster", "examples/openshift-install/worker.yaml", "examples/openshift-install/bad.yaml")
	if err == nil {
		t.Fatalf("add-to-manifests.sh accepted a bad kernelModuleName:\n%s", out)
	}
	if !strings.Contains(string(out), "spec.kernelModuleName") || !strings.Contains(string(out), "bad.yaml") {
		t.Errorf("the error does not name the file and the field:\n%s", out)
	}
	after := readTree(t, dir)
	if len(after) != len(before) {
		t.Errorf("files added although one Day1KernelModule was refused: %d -> %d", len(before), len(after))
	}

	out, err = addToManifests(t, ws, "no-such-cluster", "examples/openshift-install/worker.yaml")
	if err == nil || !strings.Contains(string(out), "openshift-install create manifests") {
		t.Errorf("without an openshift/ directory: %v\n%s", err, out)
	}
}
