package mcproducer

import (
	"bytes"
	"encoding/json"
	"fmt"

	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/day1kmod/day1kmod/pkg/ynode"
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

// machineConfig is what the producer makes of a Config, once: the object's
// identity and its Ignition config as the YAML node it is written as (and
// as typed files, for the MCO's rules). The typed MachineConfig, the kyaml
// node and the YAML text are each a view of it.
type machineConfig struct {
	name, pool string
	ignition   *yaml.Node
	files      []ign.File
}

// produce is the one gate and the one build: the field checks, then the
// MachineConfig of the defaulted c, then the MCO's rules on it. Errors carry
// paths below specPath (and namePath for the name).
func (c Config) produce(specPath, namePath *field.Path) (*machineConfig, field.ErrorList) {
	if errs := c.validateFields(fieldAt(specPath), namePath); len(errs) > 0 {
		return nil, errs
	}
	m, err := build(c.WithDefaults())
	if err != nil {
		return nil, field.ErrorList{field.InternalError(specPath, err)}
	}
	if errs := validateMCOSupport(c, m, specPath); len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// build returns the MachineConfig of a defaulted c whose fields are valid.
func build(c Config) (*machineConfig, error) {
	ign, files, err := ignitionConfig(c)
	if err != nil {
		return nil, err
	}
	return &machineConfig{name: c.MachineConfigName, pool: c.MachineConfigPool, ignition: ign, files: files}, nil
}

// NewMachineConfig validates c and returns the MachineConfig that installs
// the node scripts, their configuration and units for c. On invalid input it
// returns no object and an error listing every bad field with its value
// (a field.ErrorList aggregate: errors.As it to utilerrors.Aggregate); the
// errors are those of c.Validate(nil, nil).
func NewMachineConfig(c Config) (*mcfgv1.MachineConfig, error) {
	m, errs := c.produce(nil, nil)
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return m.typed(), nil
}

// typed is the MachineConfig as openshift/api's type; its config is the
// Ignition config's JSON.
func (m *machineConfig) typed() *mcfgv1.MachineConfig {
	var raw bytes.Buffer
	raw.Grow(ynode.JSONSize(m.ignition))
	if err := ynode.WriteJSON(&raw, m.ignition); err != nil {
		panic(err) // the node holds only mappings, lists and scalars
	}
	return &mcfgv1.MachineConfig{
		TypeMeta: metav1.TypeMeta{
			APIVersion: mcfgv1.GroupVersion.String(),
			Kind:       "MachineConfig",
		},
		ObjectMeta: metav1.ObjectMeta{
			Name:        m.name,
			Labels:      map[string]string{RoleLabel: m.pool},
			Annotations: map[string]string{VersionAnnotation: Version},
		},
		Spec: mcfgv1.MachineConfigSpec{
			Config: runtime.RawExtension{Raw: raw.Bytes()},
			// The CRD schema requires lists here: null fails admission.
			KernelArguments: []string{},
			Extensions:      []string{},
		},
	}
}

// NewMachineConfigNode validates c and returns the MachineConfig as a kyaml
// node, the form a KRM function puts into its ResourceList: the same object
// as NewMachineConfig's, written as MarshalYAML writes it (keys sorted, no
// empty fields), without going through text.
func NewMachineConfigNode(c Config) (*yaml.RNode, error) {
	n, errs := NewMachineConfigNodeAt(c, nil, nil)
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return n, nil
}

// NewMachineConfigNodeAt is NewMachineConfigNode for a Config that is part
// of a larger object: its errors (those of c.Validate(specPath, namePath))
// carry the paths of its fields there.
func NewMachineConfigNodeAt(c Config, specPath, namePath *field.Path) (*yaml.RNode, field.ErrorList) {
	m, errs := c.produce(specPath, namePath)
	if len(errs) > 0 {
		return nil, errs
	}
	return m.node(), nil
}

func (m *machineConfig) node() *yaml.RNode {
	str, mapping := ynode.String, ynode.Mapping
	return yaml.NewRNode(mapping(
		str("apiVersion"), str(mcfgv1.GroupVersion.String()),
		str("kind"), str("MachineConfig"),
		str("metadata"), mapping(
			str("annotations"), mapping(str(VersionAnnotation), str(Version)),
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
