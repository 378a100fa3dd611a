// Package function is the day1kmod KRM function: it turns Day1KernelModule
// configurations into the MachineConfig (and, when asked, the
// MachineConfigPool) that load an out-of-tree kernel module at Day 1.
//
// It follows the KRM Functions Specification: a ResourceList comes in on
// stdin and goes out on stdout, with results describing what happened.
package function

import (
	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	// Group, Version and Kind of the function's own configuration.
	Group      = "day1kmod.dev"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	Kind       = "Day1KernelModule"

	// SourceAnnotation marks every item the function generated. Its value
	// names the Day1KernelModule it came from ("Day1KernelModule/<name>"): a
	// later run replaces those items and removes the ones whose source is gone.
	SourceAnnotation = "day1kmod.dev/generated-from"

	localConfigAnnotation = "config.kubernetes.io/local-config"

	mcAPIVersion = machineconfig.APIVersion
	mcKind       = machineconfig.Kind
	mcpKind      = "MachineConfigPool"
)

// Day1KernelModule is the functionConfig (or an item) the function reads.
type Day1KernelModule struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       Day1KernelModuleSpec `json:"spec"`
}

// Day1KernelModuleSpec is the producer's Config plus the optional pool.
type Day1KernelModuleSpec struct {
	machineconfig.Config
	// MachineConfigPoolSpec, when set, makes the function also emit a
	// MachineConfigPool named after spec.machineConfigPool.
	MachineConfigPoolSpec *PoolSpec `json:"machineConfigPoolSpec,omitempty"`
}

// PoolSpec is what a custom MachineConfigPool needs from the user.
type PoolSpec struct {
	// NodeSelector selects the nodes of the pool. Required: an empty
	// selector would select every node.
	NodeSelector *LabelSelector `json:"nodeSelector,omitempty"`
	// MaxUnavailable is how many nodes (or what percentage) may update at once.
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// Paused stops the pool from rolling out new configurations.
	Paused bool `json:"paused,omitempty"`
}
