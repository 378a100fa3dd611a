package mcproducer

import (
	"bytes"
	"encoding/json"
	"fmt"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/day1kmod/day1kmod/internal/ynode"
)

// RoleLabel selects the MachineConfigPool a MachineConfig belongs to.
const RoleLabel = "machineconfiguration.openshift.io/role"

// machineConfig is what the producer makes of a Config, once: the object's
// identity and its Ignition config as the YAML node it is written as. The
// typed MachineConfig, the kyaml node and the YAML text are each a view of it.
type machineConfig struct {
	name, pool string
	ignition   *yaml.Node
}

// build validates c and builds its MachineConfig. On invalid input it returns
// an error listing every bad field with its value (a field.ErrorList
// aggregate: errors.As it to utilerrors.Aggregate).
func build(c Config) (*machineConfig, error) {
	if errs := c.Validate(nil, nil); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	c = c.WithDefaults()
	ign, err := ignitionConfig(c)
	if err != nil {
		return nil, err
	}
	return &machineConfig{name: c.MachineConfigName, pool: c.MachineConfigPool, ignition: ign}, nil
}

// NewMachineConfig validates c and returns the MachineConfig that installs
// the node scripts, their configuration and units for c. On invalid input it
// returns no object and an error listing every bad field with its value
// (a field.ErrorList aggregate: errors.As it to utilerrors.Aggregate).
func NewMachineConfig(c Config) (*mcfgv1.MachineConfig, error) {
	m, err := build(c)
	if err != nil {
		return nil, err
	}
	var raw bytes.Buffer
	raw.Grow(ynode.JSONSize(m.ignition))
	if err := ynode.WriteJSON(&raw, m.ignition); err != nil {
		return nil, err
	}
	return &mcfgv1.MachineConfig{
		TypeMeta: metav1.TypeMeta{
			APIVersion: mcfgv1.GroupVersion.String(),
			Kind:       "MachineConfig",
		},
		ObjectMeta: metav1.ObjectMeta{
			Name:   m.name,
			Labels: map[string]string{RoleLabel: m.pool},
		},
		Spec: mcfgv1.MachineConfigSpec{
			Config: runtime.RawExtension{Raw: raw.Bytes()},
			// The CRD schema requires lists here: null fails admission.
			KernelArguments: []string{},
			Extensions:      []string{},
		},
	}, nil
}

// NewMachineConfigNode validates c and returns the MachineConfig as a kyaml
// node, the form a KRM function puts into its ResourceList: the same object
// as NewMachineConfig's, written as MarshalYAML writes it (keys sorted, no
// empty fields), without going through text.
func NewMachineConfigNode(c Config) (*yaml.RNode, error) {
	m, err := build(c)
	if err != nil {
		return nil, err
	}
	return m.node(), nil
}

func (m *machineConfig) node() *yaml.RNode {
	str, mapping := ynode.String, ynode.Mapping
	return yaml.NewRNode(mapping(
		str("apiVersion"), str(mcfgv1.GroupVersion.String()),
		str("kind"), str("MachineConfig"),
		str("metadata"), mapping(
			str("labels"), mapping(str(RoleLabel), str(m.pool)),
			str("name"), str(m.name),
		),
		str("spec"), mapping(str("config"), m.ignition),
	))
}

// MarshalYAML renders mc as YAML with sorted keys and without the fields a
// person would not write (status, creationTimestamp, empty lists, zero spec
// values), so the output is stable and quiet in GitOps diffs. It takes any
// MachineConfig; for one made from a Config, NewMachineConfigNode gives the
// same YAML without the JSON round trip.
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
	return sigsyaml.Marshal(pruneEmpty(obj))
}

// ProduceMachineConfig returns the YAML of a MachineConfig named
// machineConfigName for the pool machineConfigPoolRef that, on each node,
// unloads the in-tree kernelModuleName (when loaded) and loads the
// out-of-tree kernelModuleName from kernelModuleImage before the network
// starts. The image's tag defaults to the node's kernel version.
func ProduceMachineConfig(machineConfigName, machineConfigPoolRef, kernelModuleImage, kernelModuleName string) (string, error) {
	n, err := NewMachineConfigNode(Config{
		MachineConfigName: machineConfigName,
		MachineConfigPool: machineConfigPoolRef,
		KernelModuleImage: kernelModuleImage,
		KernelModuleName:  kernelModuleName,
	})
	if err != nil {
		return "", fmt.Errorf("day1kmod: %w", err)
	}
	return n.String()
}
