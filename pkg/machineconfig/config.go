// Package machineconfig turns a request to load an out-of-tree kernel module
// at Day 1 into an OpenShift MachineConfig whose Ignition config installs the
// node scripts, their configuration and the systemd units that run them.
//
// It writes the MachineConfig as a kyaml node (or its YAML text) and links
// no typed OpenShift or Kubernetes object: the KRM function and verify start
// in a few milliseconds because of that (make bench). Package mcproducer is
// the same producer with the typed openshift/api MachineConfig; most Go
// programs want that one.
package machineconfig

import (
	"strings"
	"time"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// Ignition spec versions the producer can emit. 3.2.0 is accepted by every
// OpenShift release from 4.8 on, so it is the default.
const (
	IgnitionV3_2        = "3.2.0"
	IgnitionV3_4        = "3.4.0"
	IgnitionV3_5        = "3.5.0"
	DefaultIgnitionSpec = IgnitionV3_2
)

// Config is everything the producer needs for one Day 1 kernel module. Its
// JSON names are the Day1KernelModule spec fields of the KRM function.
type Config struct {
	// Name is N, the name every node path and unit name is derived from
	// (the Day1KernelModule's metadata.name). Empty: KernelModuleName.
	Name string `json:"-"`
	// MachineConfigName names the MachineConfig. Empty: "99-<pool>-<Name>".
	MachineConfigName string `json:"machineConfigName,omitempty"`
	// MachineConfigPool becomes the label machineconfiguration.openshift.io/role.
	MachineConfigPool string `json:"machineConfigPool"`
	// KernelModuleImage holds /opt/lib/modules/<kernel>/. Without a tag, the
	// tag is the node's kernel version; "${KERNEL_FULL_VERSION}" in the tag is
	// replaced by it; a fixed tag or a digest is used as is.
	KernelModuleImage string `json:"kernelModuleImage"`
	// KernelModuleName is the out-of-tree module to load.
	KernelModuleName string `json:"kernelModuleName"`
	// InTreeModulesToRemove are unloaded (when loaded) before the OOT module
	// is loaded. nil: the AdditionalModules, last first, then
	// KernelModuleName (so a module is unloaded before the one it uses); an
	// empty, non-nil slice: none.
	InTreeModulesToRemove []string `json:"inTreeModulesToRemove,omitempty"`
	// ModuleParameters are passed to modprobe, each "name" or "name=value".
	ModuleParameters []string `json:"moduleParameters,omitempty"`
	// AdditionalModules are further modules of the same tree, loaded in
	// order after KernelModuleName (e.g. irdma after ice, mlx5_ib after
	// mlx5_core). A failure unloads every one of them and the main module,
	// and puts the in-tree modules back.
	AdditionalModules []ModuleSpec `json:"additionalModules,omitempty"`
	// FirmwarePath is an absolute directory inside the image whose files the
	// module loads as firmware. Empty: no firmware.
	FirmwarePath string `json:"firmwarePath,omitempty"`
	// MaxKubeletDelay is how long the gate may hold the kubelet on a boot that
	// must fetch the module (install, kernel upgrade, new image), as a Go
	// duration: whole seconds from 30s to 1h. Past it the kubelet starts with
	// the in-tree driver and the fetch goes on in the background.
	// Empty: DefaultMaxKubeletDelay.
	MaxKubeletDelay string `json:"maxKubeletDelay,omitempty"`
	// RebootPolicy says when day1kmod may reboot a node after a fetch:
	// RebootBeforeKubelet (only while the gate holds the kubelet, so no
	// workload runs; a late fetch is staged for the next reboot),
	// RebootAlways (a late fetch reboots too: pods are killed without a
	// drain, a node the MCD is updating may go Degraded) or RebootNever.
	// Empty: RebootBeforeKubelet.
	RebootPolicy string `json:"rebootPolicy,omitempty"`
	// MaxShutdownDelay bounds how long a node's shutdown (the MCD's reboot
	// for an update, any reboot) may wait while day1kmod fetches the tree
	// the next boot needs (a staged kernel, a new image), so that boot loads
	// the module without a reboot of day1kmod's own: a Go duration, whole
	// seconds from 30s to 20m, or 0s to fetch nothing at shutdown. What does
	// not finish in time is fetched by the next boot's gate, as without it.
	// Empty: DefaultMaxShutdownDelay.
	MaxShutdownDelay string `json:"maxShutdownDelay,omitempty"`
	// IgnitionVersion is the Ignition spec version of the embedded config.
	// Empty: DefaultIgnitionSpec.
	IgnitionVersion string `json:"ignitionVersion,omitempty"`
}

// ModuleSpec is one additional kernel module and its modprobe parameters.
type ModuleSpec struct {
	Name       string   `json:"name"`
	Parameters []string `json:"parameters,omitempty"`
}

// WithDefaults returns c with every defaulted field filled in. It does not
// validate: call Validate first, or use NewMachineConfig.
func (c Config) WithDefaults() Config {
	if c.Name == "" {
		c.Name = c.KernelModuleName
	}
	if c.MachineConfigName == "" {
		c.MachineConfigName = defaultMachineConfigName(c.MachineConfigPool, c.Name)
	}
	if c.InTreeModulesToRemove == nil && c.KernelModuleName != "" {
		for i := len(c.AdditionalModules) - 1; i >= 0; i-- {
			c.InTreeModulesToRemove = append(c.InTreeModulesToRemove, c.AdditionalModules[i].Name)
		}
		c.InTreeModulesToRemove = append(c.InTreeModulesToRemove, c.KernelModuleName)
	}
	if c.MaxKubeletDelay == "" {
		c.MaxKubeletDelay = DefaultMaxKubeletDelay
	}
	if c.RebootPolicy == "" {
		c.RebootPolicy = RebootBeforeKubelet
	}
	if c.MaxShutdownDelay == "" {
		c.MaxShutdownDelay = DefaultMaxShutdownDelay
	}
	if c.IgnitionVersion == "" {
		c.IgnitionVersion = DefaultIgnitionSpec
	}
	return c
}

// The reboot policies Config.RebootPolicy takes, and the defaults of the
// node lifecycle settings (the node scripts' own definitions).
const (
	RebootBeforeKubelet = string(nodescripts.RebootBeforeKubelet)
	RebootAlways        = string(nodescripts.RebootAlways)
	RebootNever         = string(nodescripts.RebootNever)
)

// DefaultMaxKubeletDelay is Config.MaxKubeletDelay when empty:
// nodescripts.DefaultMaxKubeletDelay as a user writes it (a test holds them equal).
const DefaultMaxKubeletDelay = "5m"

// DefaultMaxShutdownDelay is Config.MaxShutdownDelay when empty:
// nodescripts.DefaultMaxShutdownDelay as a user writes it (a test holds them equal).
const DefaultMaxShutdownDelay = "5m"

// maxShutdownDelay is the node scripts' bound of a validated, defaulted c
// (a zero duration turns the fetch at shutdown off).
func (c Config) maxShutdownDelay() time.Duration {
	d, _ := time.ParseDuration(c.MaxShutdownDelay)
	if d == 0 {
		return nodescripts.PrefetchOff
	}
	return d
}

// maxKubeletDelay is the parsed delay of a validated, defaulted c.
func (c Config) maxKubeletDelay() time.Duration {
	d, _ := time.ParseDuration(c.MaxKubeletDelay)
	return d
}

// defaultMachineConfigName follows the MCO's convention for user content
// ("99-<pool>-<what>"), lower-cased so a module name like "Foo_bar" still
// yields a valid object name.
func defaultMachineConfigName(pool, name string) string {
	return "99-" + pool + "-" + strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}
