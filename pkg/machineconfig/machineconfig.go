package machineconfig

import (
	"fmt"

	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/day1kmod/day1kmod/pkg/ynode"
)

// APIVersion and Kind of the MachineConfig.
const (
	APIVersion = "machineconfiguration.openshift.io/v1"
	Kind       = "MachineConfig"
)

// RoleLabel selects the MachineConfigPool a MachineConfig belongs to.
const RoleLabel = "machineconfiguration.openshift.io/role"

// VersionAnnotation on every MachineConfig names the generator's Version:
// it tells which day1kmod made it and changes no node's rendered config.
const VersionAnnotation = "day1kmod.dev/generator-version"

// Version is the generator's version, set at link time by a release build:
//
//	go build -ldflags "-X github.com/day1kmod/day1kmod/pkg/machineconfig.Version=v1.2.3"
var Version = "dev"

// machineConfig is what the producer makes of a Config, once: the object's
// identity and its Ignition config as the YAML node it is written as (and
// as typed files, for the MCO's rules). The kyaml node, its YAML text and
// mcproducer's typed MachineConfig are each a view of it.
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

// NewMachineConfigNode validates c and returns the MachineConfig as a kyaml
// node, the form a KRM function puts into its ResourceList: keys sorted, no
// empty fields, the same object as mcproducer.NewMachineConfig's typed one
// and as mcproducer.MarshalYAML writes that.
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
		str("apiVersion"), str(APIVersion),
		str("kind"), str(Kind),
		str("metadata"), mapping(
			str("annotations"), mapping(str(VersionAnnotation), str(Version)),
			str("labels"), mapping(str(RoleLabel), str(m.pool)),
			str("name"), str(m.name),
		),
		str("spec"), mapping(str("config"), m.ignition),
	))
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
