// A driver update without a reboot (examples/node-disruption-policy): the
// MachineConfiguration decodes strictly into openshift/api's types, the MCO's
// CRD accepts it as is (schema and CEL rules), and what it names is what
// day1kmod generates for the example's Day1KernelModule: its config file, and
// its fetch unit to restart; nothing else of day1kmod's escapes the reboot.
package examples_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	operatorv1 "github.com/openshift/api/operator/v1"
	"sigs.k8s.io/yaml"

	"github.com/day1kmod/day1kmod/function"
	"github.com/day1kmod/day1kmod/internal/crdcheck"
	"github.com/day1kmod/day1kmod/pkg/mcproducer"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

func TestNodeDisruptionPolicyExample(t *testing.T) {
	dir := filepath.Join(repoRoot, "examples", "node-disruption-policy")
	raw, err := os.ReadFile(filepath.Join(dir, "machineconfiguration.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var mc operatorv1.MachineConfiguration
	decodeStrict(t, raw, &mc)
	if mc.APIVersion != operatorv1.GroupVersion.String() || mc.Kind != "MachineConfiguration" || mc.Name != "cluster" {
		t.Errorf("%s %s %q: the MCO reads only the MachineConfiguration named cluster of %s", mc.APIVersion, mc.Kind, mc.Name, operatorv1.GroupVersion)
	}

	v, err := crdcheck.Load(crdcheck.MachineConfigurationCRD, "v1")
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	for _, p := range v.Validate(obj) {
		t.Errorf("the MachineConfiguration CRD refuses it: %s", p)
	}

	// What day1kmod generates for the example's Day1KernelModule.
	f, err := os.Open(filepath.Join(dir, "day1kmod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	configs, err := function.ReadConfigs(f)
	if err != nil || len(configs) != 1 {
		t.Fatalf("day1kmod.yaml: %v (%d configs)", err, len(configs))
	}
	c := configs[0]
	if c.RebootPolicy == mcproducer.RebootAlways {
		t.Errorf("rebootPolicy Always: the restarted fetch would reboot the node without a drain")
	}
	generated, err := mcproducer.NewMachineConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	var cfg ign.Config
	if err := json.Unmarshal(generated.Spec.Config.Raw, &cfg); err != nil {
		t.Fatal(err)
	}
	var files, units []string
	for _, f := range cfg.Storage.Files {
		files = append(files, f.Path)
	}
	for _, u := range cfg.Systemd.Units {
		units = append(units, u.Name)
	}

	policy := mc.Spec.NodeDisruptionPolicy
	if len(policy.Units) != 0 || len(policy.SSHKey.Actions) != 0 {
		t.Errorf("units or sshkey listed: changes of day1kmod's units must still reboot")
	}
	if len(policy.Files) != 1 {
		t.Fatalf("%d files listed, want day1kmod's config file alone: its scripts must still reboot", len(policy.Files))
	}
	file := policy.Files[0]
	if file.Path != nodescripts.ConfigPath(c.Name) || !slices.Contains(files, file.Path) {
		t.Errorf("path %q: want the config file %s, which the MachineConfig writes (%v)", file.Path, nodescripts.ConfigPath(c.Name), files)
	}
	want := nodescripts.FetchUnit(c.Name)
	if len(file.Actions) != 1 || file.Actions[0].Type != operatorv1.RestartSpecAction || file.Actions[0].Restart == nil ||
		string(file.Actions[0].Restart.ServiceName) != want || !slices.Contains(units, want) {
		t.Errorf("actions %+v: want one Restart of %s, a unit of the MachineConfig (%v)", file.Actions, want, units)
	}
}
