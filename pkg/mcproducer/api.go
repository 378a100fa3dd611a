package mcproducer

import (
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RoleLabel selects the MachineConfigPool a MachineConfig belongs to.
const RoleLabel = "machineconfiguration.openshift.io/role"

// Image is a validated kernel module image reference.
type Image struct {
	// Reference is written to the node: a tag of "${KERNEL_FULL_VERSION}" is
	// replaced there by `uname -r`.
	Reference string
	// FollowsKernel: the tag changes with the node's kernel (no tag given, or
	// "${KERNEL_FULL_VERSION}" in it). False for a fixed tag or a digest.
	FollowsKernel bool
}

// ParseImage validates an image reference with a real reference parser.
func ParseImage(s string) (Image, error) { panic("TODO") }

// WithDefaults returns c with every defaulted field filled in.
func (c Config) WithDefaults() Config { panic("TODO") }

// Validate returns every problem in c at once. Spec field paths are children
// of specPath (nil: top level); Name is reported at namePath (nil: "name").
func (c Config) Validate(specPath, namePath *field.Path) field.ErrorList { panic("TODO") }

// NewMachineConfig validates c and returns the MachineConfig. Its error is a
// field.ErrorList aggregate naming every bad field.
func NewMachineConfig(c Config) (*mcfgv1.MachineConfig, error) { panic("TODO") }

// MarshalYAML renders mc without empty noise (status, creationTimestamp, null lists).
func MarshalYAML(mc *mcfgv1.MachineConfig) ([]byte, error) { panic("TODO") }

// ProduceMachineConfig returns the YAML of a MachineConfig that loads
// kernelModuleName from kernelModuleImage on the nodes of machineConfigPoolRef.
func ProduceMachineConfig(machineConfigName, machineConfigPoolRef, kernelModuleImage, kernelModuleName string) (string, error) {
	panic("TODO")
}
