package mcproducer

import (
	"encoding/json"
	"errors"
	"testing"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/yaml"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
)

// typedCases: every Ignition version and every option.
func typedCases() map[string]Config {
	seed := Config{MachineConfigName: "99-worker-ice", MachineConfigPool: "worker", KernelModuleImage: "quay.io/acme/ice-kmod", KernelModuleName: "ice"}
	cases := map[string]Config{"seed": seed}
	for _, v := range SupportedIgnitionVersions {
		cases["full-"+v] = Config{
			Name: "ice", MachineConfigName: "99-ice-ice", MachineConfigPool: "ice",
			KernelModuleImage: "quay.io/acme/ice-kmod:${KERNEL_FULL_VERSION}", KernelModuleName: "ice",
			InTreeModulesToRemove: []string{"irdma", "ice"}, ModuleParameters: []string{"debug=1", "enable_lldp"},
			AdditionalModules: []ModuleSpec{{Name: "irdma", Parameters: []string{"roce_ena=1"}}},
			FirmwarePath:      "/firmware/intel/ice", IgnitionVersion: v, MaxKubeletDelay: "90s",
			RebootPolicy: RebootNever, MaxShutdownDelay: "0s",
		}
	}
	return cases
}

// The typed object says what the node says: MarshalYAML of NewMachineConfig
// is the node's text, and the text decodes strictly into openshift/api's
// type and is written back the same.
func TestTypedEqualsNode(t *testing.T) {
	for name, c := range typedCases() {
		mc, err := NewMachineConfig(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		typedYAML, err := MarshalYAML(mc)
		if err != nil {
			t.Fatal(err)
		}
		n, err := machineconfig.NewMachineConfigNode(c)
		if err != nil {
			t.Fatal(err)
		}
		text, err := n.String()
		if err != nil {
			t.Fatal(err)
		}
		if string(typedYAML) != text {
			t.Errorf("%s: MarshalYAML(NewMachineConfig) differs from the node", name)
		}
		var back mcfgv1.MachineConfig
		if err := yaml.UnmarshalStrict([]byte(text), &back); err != nil {
			t.Fatalf("%s: strict decoding: %v", name, err)
		}
		if again, err := MarshalYAML(&back); err != nil || string(again) != text {
			t.Errorf("%s: the node decoded into openshift/api's type is not written back the same (%v)", name, err)
		}
		if raw, err := json.Marshal(mc); err != nil || len(raw) > MaxMachineConfigSize {
			t.Errorf("%s: %d bytes of JSON (%v)", name, len(raw), err)
		}
	}
}

// Bad input: no object, and exactly Validate's errors as an aggregate.
func TestTypedRefusesWithValidateErrors(t *testing.T) {
	c := Config{MachineConfigPool: "Worker", KernelModuleImage: "acme/ice", KernelModuleName: "ice;rm"}
	mc, err := NewMachineConfig(c)
	if mc != nil || err == nil {
		t.Fatalf("got %v, %v", mc, err)
	}
	var agg utilerrors.Aggregate
	if !errors.As(err, &agg) {
		t.Fatalf("%T is not an Aggregate", err)
	}
	want := c.Validate(nil, nil).ToAggregate()
	if err.Error() != want.Error() || len(agg.Errors()) < 2 {
		t.Errorf("got %v\nwant %v", err, want)
	}
}
