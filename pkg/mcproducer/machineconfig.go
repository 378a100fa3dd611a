package mcproducer

import (
	"encoding/json"
	"fmt"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// RoleLabel selects the MachineConfigPool a MachineConfig belongs to.
const RoleLabel = "machineconfiguration.openshift.io/role"

// VersionAnnotation on every MachineConfig names the generator's Version:
// it tells which day1kmod made it and changes no node's rendered config.
const VersionAnnotation = "day1kmod.dev/generator-version"

// Version is the generator's version, set at link time by a release build:
//
//	go build -ldflags "-X github.com/day1kmod/day1kmod/pkg/mcproducer.Version=v1.2.3"
var Version = "dev"

// NewMachineConfig validates c and returns the MachineConfig that installs
// the node scripts, their configuration and units for c. On invalid input it
// returns no object and an error listing every bad field with its value
// (a field.ErrorList aggregate: errors.As it to utilerrors.Aggregate); the
// errors are those of c.Validate(nil, nil).
func NewMachineConfig(c Config) (*mcfgv1.MachineConfig, error) {
	if errs := c.validateFields(fieldAt(nil), nil); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	d := c.WithDefaults()
	mc, err := build(d)
	if err != nil {
		return nil, err
	}
	if errs := validateMCOSupport(c, mc, nil); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return mc, nil
}

// build returns the MachineConfig of a defaulted c whose fields are valid.
func build(c Config) (*mcfgv1.MachineConfig, error) {
	raw, err := ignitionConfig(c)
	if err != nil {
		return nil, err
	}
	return &mcfgv1.MachineConfig{
		TypeMeta: metav1.TypeMeta{
			APIVersion: mcfgv1.GroupVersion.String(),
			Kind:       "MachineConfig",
		},
		ObjectMeta: metav1.ObjectMeta{
			Name:        c.MachineConfigName,
			Labels:      map[string]string{RoleLabel: c.MachineConfigPool},
			Annotations: map[string]string{VersionAnnotation: Version},
		},
		Spec: mcfgv1.MachineConfigSpec{
			Config: runtime.RawExtension{Raw: raw},
			// The CRD schema requires lists here: null fails admission.
			KernelArguments: []string{},
			Extensions:      []string{},
		},
	}, nil
}

// MarshalYAML renders mc as YAML with sorted keys and without the fields a
// person would not write (status, creationTimestamp, empty lists, zero spec
// values), so the output is stable and quiet in GitOps diffs.
func MarshalYAML(mc *mcfgv1.MachineConfig) ([]byte, error) {
	raw, err := json.Marshal(mc)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if spec, ok := obj["spec"].(map[string]any); ok {
		for k, v := range spec {
			if v == "" || v == false {
				delete(spec, k)
			}
		}
	}
	return yaml.Marshal(pruneEmpty(obj))
}

// ProduceMachineConfig returns the YAML of a MachineConfig named
// machineConfigName for the pool machineConfigPoolRef that, on each node,
// unloads the in-tree kernelModuleName (when loaded) and loads the
// out-of-tree kernelModuleName from kernelModuleImage before the network
// starts. The image's tag defaults to the node's kernel version.
func ProduceMachineConfig(machineConfigName, machineConfigPoolRef, kernelModuleImage, kernelModuleName string) (string, error) {
	mc, err := NewMachineConfig(Config{
		MachineConfigName: machineConfigName,
		MachineConfigPool: machineConfigPoolRef,
		KernelModuleImage: kernelModuleImage,
		KernelModuleName:  kernelModuleName,
	})
	if err != nil {
		return "", fmt.Errorf("day1kmod: %w", err)
	}
	out, err := MarshalYAML(mc)
	return string(out), err
}
