// Package mcproducer turns a request to load an out-of-tree kernel module at
// Day 1 into an OpenShift MachineConfig whose Ignition config installs the
// node scripts, their configuration and the systemd units that run them.
//
// It is package machineconfig, which does the work and writes YAML, plus the
// MachineConfig as openshift/api's type (NewMachineConfig, MarshalYAML). The
// names below that are also machineconfig's are the same types, constants
// and functions: a Config made here is a machineconfig.Config.
package mcproducer

import (
	"bytes"
	"encoding/json"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"github.com/day1kmod/day1kmod/pkg/ynode"
)

// The producer's input, from package machineconfig.
type (
	// Config is everything the producer needs for one Day 1 kernel module.
	Config = machineconfig.Config
	// ModuleSpec is one additional module loaded after the main one.
	ModuleSpec = machineconfig.ModuleSpec
	// Image is a kernel module image reference as the node scripts read it.
	Image = machineconfig.Image
)

// Ignition spec versions the producer can emit, and the default.
const (
	IgnitionV3_2        = machineconfig.IgnitionV3_2
	IgnitionV3_4        = machineconfig.IgnitionV3_4
	IgnitionV3_5        = machineconfig.IgnitionV3_5
	DefaultIgnitionSpec = machineconfig.DefaultIgnitionSpec
)

// SupportedIgnitionVersions are the accepted Config.IgnitionVersion values.
var SupportedIgnitionVersions = machineconfig.SupportedIgnitionVersions

// Values of Config.RebootPolicy.
const (
	RebootBeforeKubelet = machineconfig.RebootBeforeKubelet
	RebootAlways        = machineconfig.RebootAlways
	RebootNever         = machineconfig.RebootNever
)

// Defaults, limits and names: see package machineconfig.
const (
	DefaultMaxKubeletDelay   = machineconfig.DefaultMaxKubeletDelay
	DefaultMaxShutdownDelay  = machineconfig.DefaultMaxShutdownDelay
	KernelVersionPlaceholder = machineconfig.KernelVersionPlaceholder
	MaxKernelVersionLength   = machineconfig.MaxKernelVersionLength
	MaxMachineConfigSize     = machineconfig.MaxMachineConfigSize
	RoleLabel                = machineconfig.RoleLabel
	VersionAnnotation        = machineconfig.VersionAnnotation
)

// ParseImage reads a kernel module image reference (see machineconfig.ParseImage).
func ParseImage(s string) (Image, error) { return machineconfig.ParseImage(s) }

// NewMachineConfigNode validates c and returns the MachineConfig as a kyaml
// node (see machineconfig.NewMachineConfigNode).
func NewMachineConfigNode(c Config) (*kyaml.RNode, error) {
	return machineconfig.NewMachineConfigNode(c)
}

// NewMachineConfigNodeAt is NewMachineConfigNode for a Config that is part of
// a larger object (see machineconfig.NewMachineConfigNodeAt).
func NewMachineConfigNodeAt(c Config, specPath, namePath *field.Path) (*kyaml.RNode, field.ErrorList) {
	return machineconfig.NewMachineConfigNodeAt(c, specPath, namePath)
}

// ProduceMachineConfig returns the YAML of the MachineConfig for the four
// required fields (see machineconfig.ProduceMachineConfig).
func ProduceMachineConfig(machineConfigName, machineConfigPoolRef, kernelModuleImage, kernelModuleName string) (string, error) {
	return machineconfig.ProduceMachineConfig(machineConfigName, machineConfigPoolRef, kernelModuleImage, kernelModuleName)
}

// NewMachineConfig validates c and returns the MachineConfig that installs
// the node scripts, their configuration and units for c. On invalid input it
// returns no object and an error listing every bad field with its value
// (a field.ErrorList aggregate: errors.As it to utilerrors.Aggregate); the
// errors are those of c.Validate(nil, nil).
func NewMachineConfig(c Config) (*mcfgv1.MachineConfig, error) {
	n, err := machineconfig.NewMachineConfigNode(c)
	if err != nil {
		return nil, err
	}
	return typed(n), nil
}

// typed is the MachineConfig node n as openshift/api's type; its config is
// the Ignition config's JSON.
func typed(n *kyaml.RNode) *mcfgv1.MachineConfig {
	var raw bytes.Buffer
	cfg := n.Field("spec").Value.Field("config").Value.YNode()
	raw.Grow(ynode.JSONSize(cfg))
	if err := ynode.WriteJSON(&raw, cfg); err != nil {
		panic(err) // the node holds only mappings, lists and scalars
	}
	return &mcfgv1.MachineConfig{
		TypeMeta: metav1.TypeMeta{
			APIVersion: machineconfig.APIVersion,
			Kind:       machineconfig.Kind,
		},
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.GetName(),
			Labels:      n.GetLabels(),
			Annotations: n.GetAnnotations(),
		},
		Spec: mcfgv1.MachineConfigSpec{
			Config: runtime.RawExtension{Raw: raw.Bytes()},
			// The CRD schema requires lists here: null fails admission.
			KernelArguments: []string{},
			Extensions:      []string{},
		},
	}
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

// pruneEmpty drops nulls, empty objects and empty lists, recursively.
// json.Marshal then writes object keys sorted, so output is deterministic.
func pruneEmpty(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e = pruneEmpty(e); isEmpty(e) {
				delete(t, k)
			} else {
				t[k] = e
			}
		}
	case []any:
		kept := t[:0]
		for _, e := range t {
			if e = pruneEmpty(e); !isEmpty(e) {
				kept = append(kept, e)
			}
		}
		return kept
	}
	return v
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}
