// Package nodescripts holds what day1kmod installs on a node for one
// Day1KernelModule named N: the bash scripts (kept as real, shellcheck-
// clean .sh files in this directory and embedded here) and the writer of the
// config file they read, which is the single definition of its format.
//
// On the node:
//
//	/usr/local/bin/day1kmod-N-lib.sh    Lib: sourced by the others
//	/usr/local/bin/day1kmod-N-load.sh   Load: ExecStart of the pre-network load unit
//	/usr/local/bin/day1kmod-N-pull.sh   Pull: ExecStart of the gate in front of the kubelet
//	/usr/local/bin/day1kmod-N-fetch.sh  Fetch: ExecStart of the background fetch unit,
//	                                    and with --next-boot the ExecStop of the prefetch unit
//	/etc/day1kmod/N.conf                Config.Render
//	/run/day1kmod/N.status              written by every script run (StatusPath)
//
// and the units run e.g. "/usr/local/bin/day1kmod-ice-load.sh /etc/day1kmod/ice.conf"
// (LoadCommand, PullCommand, FetchCommand, PrefetchCommand). Files returns
// the files for a Config.
package nodescripts

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/day1kmod/day1kmod/pkg/lazyregexp"
)

// The scripts, byte for byte as in this directory. They are strings rather
// than byte slices so no importer can modify what every other importer sees.
var (
	//go:embed lib.sh
	Lib string
	//go:embed load.sh
	Load string
	//go:embed pull.sh
	Pull string
	//go:embed fetch.sh
	Fetch string
)

const (
	// BinDir holds the scripts on the node.
	BinDir = "/usr/local/bin"
	// ConfigDir holds the config files on the node.
	ConfigDir = "/etc/day1kmod"
	// RunDir holds what lasts one boot: the status files, the fetch locks
	// and the reboot coordination markers (lib.sh: DAY1KMOD_RUN_DIR).
	RunDir = "/run/day1kmod"
	// FirmwareDir is where the load installs the firmware of every
	// Day1KernelModule of the node and points the kernel's firmware search
	// path (firmware_class.path) at: inside day1kmod's own state, as
	// /lib/firmware is read-only on RHCOS and /var/lib/firmware belongs to
	// others (lib.sh: FIRMWARE_DIR).
	FirmwareDir = "/var/lib/day1kmod/.firmware"
	// KernelVersionPlaceholder in an image reference is replaced on the node
	// by the running kernel's version (`uname -r`).
	KernelVersionPlaceholder = "${KERNEL_FULL_VERSION}"
	// ConfigFormat is the value of the "format" key Render writes and the
	// scripts require.
	ConfigFormat = "1"
	// FetchExitImageUnusable is fetch.sh's exit status when the image was
	// pulled but lacks what the config asks for (no modules for the running
	// kernel, no such module, wrong vermagic, no firmware directory) or
	// holds what the node refuses (TreeEntryRefused, a symlinked tree, more
	// than MaxTreeBytes, missing symbols, unsigned where the kernel enforces
	// signatures): retrying cannot help, so the fetch gives up at once. Other failures
	// are retried inside fetch.sh with a capped back-off.
	FetchExitImageUnusable = 2
	// ScriptMode and ConfigMode are the file modes to install them with.
	ScriptMode = 0o755
	ConfigMode = 0o644
)

// LibPath, LoadPath, PullPath and FetchPath are where the scripts for name
// are installed; the scripts find the library from their own path, so they
// must stay side by side with these names.
func LibPath(name string) string   { return BinDir + "/day1kmod-" + name + "-lib.sh" }
func LoadPath(name string) string  { return BinDir + "/day1kmod-" + name + "-load.sh" }
func PullPath(name string) string  { return BinDir + "/day1kmod-" + name + "-pull.sh" }
func FetchPath(name string) string { return BinDir + "/day1kmod-" + name + "-fetch.sh" }

// ConfigPath is where the config file for name is installed.
func ConfigPath(name string) string { return ConfigDir + "/" + name + ".conf" }

// StatusPath is the status file of name: key=value lines saying what is
// loaded and what the last load, gate and fetch did (see README.md).
func StatusPath(name string) string { return RunDir + "/" + name + ".status" }

// LoadUnit, PullUnit and FetchUnit name the systemd units that run the
// scripts for name. lib.sh derives the same names (gate_unit, fetch_unit;
// a test holds them equal), and pull.sh finds the other modules' gates by the
// pattern "day1kmod-pull-*.service" (see wait_for_other_gates).
func LoadUnit(name string) string  { return "day1kmod-load-" + name + ".service" }
func PullUnit(name string) string  { return "day1kmod-pull-" + name + ".service" }
func FetchUnit(name string) string { return "day1kmod-fetch-" + name + ".service" }

// PrefetchUnit names the unit whose stop, at every shutdown, fetches the
// tree the next boot needs (lib.sh: prefetch_unit).
func PrefetchUnit(name string) string { return "day1kmod-prefetch-" + name + ".service" }

// LoadCommand, PullCommand and FetchCommand are the ExecStart= command lines
// of the units. name must be valid (see Config.Render): it is not quoted.
func LoadCommand(name string) string  { return LoadPath(name) + " " + ConfigPath(name) }
func PullCommand(name string) string  { return PullPath(name) + " " + ConfigPath(name) }
func FetchCommand(name string) string { return FetchPath(name) + " " + ConfigPath(name) }

// PrefetchCommand is the prefetch unit's ExecStop= command line. Units are
// not reloaded before the MCD's reboot: this line, as the booted node read
// it, runs the fetch.sh that the update wrote, so it must never change.
func PrefetchCommand(name string) string {
	return FetchPath(name) + " " + NextBootFlag + " " + ConfigPath(name)
}

// NextBootFlag is fetch.sh's argument for the fetch at shutdown.
const NextBootFlag = "--next-boot"

// How long the gate (the pull unit) may hold the kubelet on a boot that must
// fetch: the default and the allowed range of Config.MaxKubeletDelay.
const (
	DefaultMaxKubeletDelay = 5 * time.Minute
	MinMaxKubeletDelay     = 30 * time.Second
	MaxMaxKubeletDelay     = time.Hour
)

// How long the fetch for the next boot may hold a shutdown: the default and
// the allowed range of Config.MaxShutdownDelay. The maximum stays well under
// the 30 minutes after which systemd forces a reboot that does not finish
// (reboot.target's JobTimeoutSec).
const (
	DefaultMaxShutdownDelay = 5 * time.Minute
	MinMaxShutdownDelay     = 30 * time.Second
	MaxMaxShutdownDelay     = 20 * time.Minute
	// PrefetchOff as Config.MaxShutdownDelay: nothing is fetched at
	// shutdown (the config file says max_shutdown_delay=0).
	PrefetchOff time.Duration = -1
)

// PrefetchStopTimeout is the prefetch unit's TimeoutStopSec: above the
// largest bound a user may set, since the config file (and with it the
// bound) may change after the unit was loaded; the script ends at its bound.
const PrefetchStopTimeout = MaxMaxShutdownDelay + time.Minute

// LoadTimeout is the load unit's TimeoutStartSec. load.sh's own step limits
// (LOAD_BUDGET and ROLLBACK_BUDGET there) add up below it, so its rollback
// to the in-tree driver always runs before systemd kills it; a test holds
// them to it.
const LoadTimeout = 5 * time.Minute

// GateTimeout is the pull unit's TimeoutStartSec: above the largest delay a
// user may set, so it is the script that ends the wait, never systemd.
const GateTimeout = MaxMaxKubeletDelay + 10*time.Minute

// RebootPolicy says what day1kmod may do once it has fetched a tree for the
// running kernel.
type RebootPolicy string

const (
	// RebootBeforeKubelet reboots only while the gate still holds the
	// kubelet, so no workload runs; a fetch that finishes later is staged
	// and loaded at the next reboot (the MCD's next drained reboot).
	RebootBeforeKubelet RebootPolicy = "BeforeKubelet"
	// RebootAlways also reboots after a late fetch, although workloads may
	// run: their pods are killed without a drain, and a node the MCD is
	// updating at that moment may go Degraded.
	RebootAlways RebootPolicy = "Always"
	// RebootNever never reboots: every fetched tree waits for a reboot made
	// by someone else. The gate then does not hold the kubelet.
	RebootNever RebootPolicy = "Never"
	// DefaultRebootPolicy is used when none is given.
	DefaultRebootPolicy = RebootBeforeKubelet
)

// RebootPolicies lists the valid policies, default first.
var RebootPolicies = []RebootPolicy{RebootBeforeKubelet, RebootAlways, RebootNever}

// Config is the content of the config file for one Day1KernelModule.
type Config struct {
	// Name is N: [A-Za-z0-9][A-Za-z0-9_.-]*. Every node path is derived from it.
	Name string
	// Image is the image reference. It may contain KernelVersionPlaceholder
	// (a tag-less image arrives as "repo:${KERNEL_FULL_VERSION}"); otherwise
	// (fixed tag, digest) it is used as is.
	Image string
	// Module is the out-of-tree module to load: [A-Za-z0-9_-], 1 to 56
	// characters (the same for InTreeModules).
	Module string
	// InTreeModules are unloaded, when loaded, before Module is loaded, and
	// reloaded if it fails. May be empty.
	InTreeModules []string
	// Parameters are passed to modprobe: "name" or "name=value", value of
	// [A-Za-z0-9_.,:/+-].
	Parameters []string
	// FirmwarePath is an absolute directory inside the image whose files are
	// installed for the kernel's firmware loader, or "".
	FirmwarePath string
	// MaxKubeletDelay bounds the gate's wait for a fetch, in whole seconds
	// from MinMaxKubeletDelay to MaxMaxKubeletDelay. 0: DefaultMaxKubeletDelay.
	MaxKubeletDelay time.Duration
	// RebootPolicy is one of RebootPolicies. "": DefaultRebootPolicy.
	RebootPolicy RebootPolicy
	// MaxShutdownDelay bounds the fetch for the next boot at shutdown, in
	// whole seconds from MinMaxShutdownDelay to MaxMaxShutdownDelay.
	// 0: DefaultMaxShutdownDelay; PrefetchOff: no fetch at shutdown.
	MaxShutdownDelay time.Duration
	// Additional modules of the same tree, loaded in order after Module and
	// unloaded with it on a failure. Names and parameters as above.
	Additional []Module
}

// Module is an additional module and its parameters.
type Module struct {
	Name       string
	Parameters []string
}

// File is one file to install on the node.
type File struct {
	Path     string
	Mode     int
	Contents string
}

// Scripts are the contents of the node scripts: the same for every
// Day1KernelModule (only the config file differs).
func Scripts() []string { return []string{Lib, Load, Pull, Fetch} }

// ScriptPaths are where the node scripts of N are installed, in the order
// of Scripts.
func ScriptPaths(name string) []string {
	return []string{LibPath(name), LoadPath(name), PullPath(name), FetchPath(name)}
}

// Files returns the config file and the scripts for c, in a fixed order:
// config, then the scripts in the order of Scripts.
func Files(c Config) ([]File, error) {
	conf, err := c.Render()
	if err != nil {
		return nil, err
	}
	files := []File{{Path: ConfigPath(c.Name), Mode: ConfigMode, Contents: string(conf)}}
	for i, s := range Scripts() {
		files = append(files, File{Path: ScriptPaths(c.Name)[i], Mode: ScriptMode, Contents: s})
	}
	return files, nil
}

// The shapes Render accepts, the same as the RE_* patterns of lib.sh's
// check_config. The caller (machineconfig's Config.Validate, the one gate that
// tells the user what is wrong) checks every value more strictly first;
// these are the format's own contract: every value stays on one line, free
// of whitespace and shell metacharacters, and no name or parameter starts
// with '-' (modprobe would read it as an option).
// They are compiled on first use, not at start-up (see lazyregexp).
var (
	nameRE     = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	moduleRE   = lazyregexp.New(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)
	paramRE    = lazyregexp.New(`^[A-Za-z0-9_][A-Za-z0-9_-]*(=[A-Za-z0-9_.,:/+-]*)?$`)
	firmwareRE = lazyregexp.New(`^/[A-Za-z0-9_.+/-]*$`)
)

// maxModuleName is the longest module name: MODULE_NAME_LEN - 1 in the
// kernel. A length check rather than a {0,55} in moduleRE, which would
// compile to 55 nested states.
const maxModuleName = 56

func validModule(m string) bool { return len(m) <= maxModuleName && moduleRE().MatchString(m) }

// kernelStandIn replaces KernelVersionPlaceholder when an image reference is
// checked: it is valid wherever the placeholder may stand.
const kernelStandIn = "kernel"

// checkImage: ref is an image reference to go-containerregistry (the one
// parser of references in day1kmod), with the placeholder standing for a
// kernel version.
func checkImage(ref string) error {
	if ref == "" || strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return errors.New("not a single word of printable ASCII")
	}
	_, err := name.ParseReference(strings.ReplaceAll(ref, KernelVersionPlaceholder, kernelStandIn), name.WeakValidation)
	return err
}

// Render returns the config file for c. The format is a comment header, then
// one key=value line per key, in this order:
//
//	format=1
//	name=N
//	image=REFERENCE            (may contain ${KERNEL_FULL_VERSION})
//	module=MODULE
//	in_tree_modules=A B        (space-separated, may be empty)
//	module_parameters=P Q=V    (space-separated, may be empty)
//	firmware_path=/DIR         (may be empty)
//	max_kubelet_delay=SECONDS  (the gate's bound, a whole number)
//	reboot_policy=POLICY       (BeforeKubelet, Always or Never)
//	max_shutdown_delay=SECONDS (the bound of the fetch at shutdown; 0: none)
//	additional_module=M P Q=V  (one line per additional module, in load
//	                           order: its name, then its parameters)
//
// The scripts parse it (a value is everything after the first "="); they
// never source it. Render refuses any value that is not of the documented
// shape, so no value can carry a newline, a NUL, whitespace or shell syntax.
// The output depends on c only: the same Config gives the same bytes.
func (c Config) Render() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("nodescripts: config %q: %w", c.Name, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# day1kmod configuration for %s.\n", c.Name)
	b.WriteString("# Generated: the node scripts read these key=value lines as data, never as shell code.\n")
	line := func(k, v string) { b.WriteString(k + "=" + v + "\n") }
	line("format", ConfigFormat)
	line("name", c.Name)
	line("image", c.Image)
	line("module", c.Module)
	line("in_tree_modules", strings.Join(c.InTreeModules, " "))
	line("module_parameters", strings.Join(c.Parameters, " "))
	line("firmware_path", c.FirmwarePath)
	line("max_kubelet_delay", strconv.FormatInt(int64(c.delay()/time.Second), 10))
	line("reboot_policy", string(c.policy()))
	line("max_shutdown_delay", strconv.FormatInt(int64(max(c.shutdownDelay(), 0)/time.Second), 10))
	for _, m := range c.Additional {
		line("additional_module", strings.Join(append([]string{m.Name}, m.Parameters...), " "))
	}
	return []byte(b.String()), nil
}

func (c Config) check() error {
	var errs []error
	bad := func(field, value, want string) {
		errs = append(errs, fmt.Errorf("%s %q: %s", field, value, want))
	}
	if !nameRE().MatchString(c.Name) {
		bad("name", c.Name, "want [A-Za-z0-9][A-Za-z0-9_.-]*")
	}
	if err := checkImage(c.Image); err != nil {
		bad("image", c.Image, "want an image reference, optionally with "+KernelVersionPlaceholder+": "+err.Error())
	}
	if !validModule(c.Module) {
		bad("module", c.Module, "want [A-Za-z0-9_-], 1 to 56 characters, not starting with '-'")
	}
	for i, m := range c.InTreeModules {
		if !validModule(m) {
			bad(fmt.Sprintf("in-tree module [%d]", i), m, "want [A-Za-z0-9_-], 1 to 56 characters, not starting with '-'")
		}
	}
	for i, p := range c.Parameters {
		if !paramRE().MatchString(p) {
			bad(fmt.Sprintf("parameter [%d]", i), p, "want name or name=value, name not starting with '-', value of [A-Za-z0-9_.,:/+-]")
		}
	}
	for i, m := range c.Additional {
		if !validModule(m.Name) {
			bad(fmt.Sprintf("additional module [%d]", i), m.Name, "want [A-Za-z0-9_-], 1 to 56 characters, not starting with '-'")
		}
		for j, p := range m.Parameters {
			if !paramRE().MatchString(p) {
				bad(fmt.Sprintf("additional module [%d] parameter [%d]", i, j), p, "want name or name=value, name not starting with '-', value of [A-Za-z0-9_.,:/+-]")
			}
		}
	}
	if c.FirmwarePath != "" {
		if !firmwareRE().MatchString(c.FirmwarePath) || hasDotDot(c.FirmwarePath) {
			bad("firmware path", c.FirmwarePath, "want an absolute path of [A-Za-z0-9_.+/-] without ..")
		}
	}
	if d := c.delay(); d < MinMaxKubeletDelay || d > MaxMaxKubeletDelay || d%time.Second != 0 {
		bad("max kubelet delay", d.String(), fmt.Sprintf("want whole seconds from %s to %s", MinMaxKubeletDelay, MaxMaxKubeletDelay))
	}
	if d := c.shutdownDelay(); d != PrefetchOff && (d < MinMaxShutdownDelay || d > MaxMaxShutdownDelay || d%time.Second != 0) {
		bad("max shutdown delay", d.String(), fmt.Sprintf("want PrefetchOff or whole seconds from %s to %s", MinMaxShutdownDelay, MaxMaxShutdownDelay))
	}
	if !slices.Contains(RebootPolicies, c.policy()) {
		bad("reboot policy", string(c.RebootPolicy), fmt.Sprintf("want one of %v", RebootPolicies))
	}
	return errors.Join(errs...)
}

func (c Config) delay() time.Duration {
	if c.MaxKubeletDelay == 0 {
		return DefaultMaxKubeletDelay
	}
	return c.MaxKubeletDelay
}

func (c Config) shutdownDelay() time.Duration {
	if c.MaxShutdownDelay == 0 {
		return DefaultMaxShutdownDelay
	}
	return c.MaxShutdownDelay
}

func (c Config) policy() RebootPolicy {
	if c.RebootPolicy == "" {
		return DefaultRebootPolicy
	}
	return c.RebootPolicy
}

func hasDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}
