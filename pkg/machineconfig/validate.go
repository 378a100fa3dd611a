package machineconfig

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/day1kmod/day1kmod/pkg/lazyregexp"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// Why a value is refused, in the words every message starts with (as
// Butane names the class of each refusal), so a reader knows whose rule a
// check enforces.
const (
	// refusedByNode (image.go): the node's scripts, podman or kernel would
	// not take the value.
	// refusedByMCO: the Machine Config Operator would not render or apply it.
	refusedByMCO = "the MCO would refuse this"
	// mayInject: the value could reach a unit line, a shell word or a
	// modprobe option.
	mayInject = "this could inject"
	// collides: the value clashes with another value or module that ends up
	// on the same node.
	collides = "this collides with another module"
)

// The patterns admit nothing that could end a unit line or a shell word, or
// be read by modprobe as an option: no whitespace, quotes, '%', '$', '`', ';'.
var (
	// nameRe: N names files and units; '.' keeps DNS-1123 subdomains usable.
	nameRe      = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	moduleRe    = lazyregexp.New(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)
	parameterRe = lazyregexp.New(`^([A-Za-z_][A-Za-z0-9_-]*)(=[A-Za-z0-9_.,:/+-]*)?$`)
	firmwareRe  = lazyregexp.New(`^/[A-Za-z0-9_.+/-]*$`)
)

const (
	maxNameLength      = 63
	maxModuleLength    = 56 // MODULE_NAME_LEN - 1 in the kernel
	maxParameterLength = 1024
	maxPathLength      = 1024
)

// SupportedIgnitionVersions lists the spec versions Config.IgnitionVersion takes.
var SupportedIgnitionVersions = []string{IgnitionV3_2, IgnitionV3_4, IgnitionV3_5}

// Validate is the one gate for "valid": it returns every problem in c at
// once, each naming its field path and value, and whatever it accepts
// NewMachineConfig turns into a MachineConfig. Spec field paths are children
// of specPath (nil: top level); Name is reported at namePath (nil: "name").
// Defaults are applied first, so a defaulted value that is invalid is
// reported at the field it comes from. When every field is valid, the
// MachineConfig is built and checked against the MCO's rules (its size
// above all), reported at the field that breaks them.
func (c Config) Validate(specPath, namePath *field.Path) field.ErrorList {
	_, errs := c.produce(specPath, namePath)
	return errs
}

// fieldAt returns the path of a spec field below specPath.
func fieldAt(specPath *field.Path) func(string) *field.Path {
	return func(f string) *field.Path {
		if specPath == nil {
			return field.NewPath(f)
		}
		return specPath.Child(f)
	}
}

func (c Config) validateFields(at func(string) *field.Path, namePath *field.Path) field.ErrorList {
	if namePath == nil {
		namePath = field.NewPath("name")
	}
	var errs field.ErrorList
	if c.Name != "" {
		errs = append(errs, validateName(c.Name, namePath)...)
	}
	moduleErrs := validateModule(c.KernelModuleName, at("kernelModuleName"), true)
	errs = append(errs, moduleErrs...)
	if c.Name == "" && len(moduleErrs) == 0 {
		// A valid module name can still be an invalid N ("_x").
		for _, e := range validateName(c.KernelModuleName, at("kernelModuleName")) {
			e.Detail += fmt.Sprintf(" (the name defaults to kernelModuleName; set %s)", namePath)
			errs = append(errs, e)
		}
	}

	errs = append(errs, validatePool(c.MachineConfigPool, at("machineConfigPool"))...)
	if c.MachineConfigName != "" {
		errs = append(errs, validateMachineConfigName(c.MachineConfigName, at("machineConfigName"))...)
	} else if len(errs) == 0 {
		// The derived name can still be too long for an object name.
		d := c.WithDefaults()
		for _, e := range validateMachineConfigName(d.MachineConfigName, at("machineConfigName")) {
			e.Detail += " (derived from machineConfigPool and the name; set machineConfigName)"
			errs = append(errs, e)
		}
	}

	if _, err := ParseImage(c.KernelModuleImage); err != nil {
		if c.KernelModuleImage == "" {
			errs = append(errs, field.Required(at("kernelModuleImage"), "the image holding /opt/lib/modules/<kernel>/"))
		} else {
			errs = append(errs, field.Invalid(at("kernelModuleImage"), c.KernelModuleImage, err.Error()))
		}
	}

	seen := map[string]bool{}
	for i, m := range c.InTreeModulesToRemove {
		p := at("inTreeModulesToRemove").Index(i)
		errs = append(errs, validateModule(m, p, true)...)
		if k := canonicalModule(m); m != "" && seen[k] {
			errs = append(errs, duplicate(p, m, "the kernel treats '-' and '_' in module names as one character"))
		} else {
			seen[k] = true
		}
	}

	errs = append(errs, validateParameters(c.ModuleParameters, at("moduleParameters"))...)

	loads := map[string]bool{canonicalModule(c.KernelModuleName): true}
	for i, m := range c.AdditionalModules {
		p := at("additionalModules").Index(i)
		nameErrs := validateModule(m.Name, p.Child("name"), true)
		errs = append(errs, nameErrs...)
		if k := canonicalModule(m.Name); len(nameErrs) == 0 && loads[k] {
			errs = append(errs, duplicate(p.Child("name"), m.Name, "this module is already loaded by kernelModuleName or an earlier additional module (the kernel treats '-' and '_' in module names as one character)"))
		} else {
			loads[k] = true
		}
		errs = append(errs, validateParameters(m.Parameters, p.Child("parameters"))...)
	}

	if f := c.FirmwarePath; f != "" {
		fp := at("firmwarePath")
		switch {
		case len(f) > maxPathLength:
			errs = append(errs, tooLong(fp, f, maxPathLength))
		case !firmwareRe().MatchString(f):
			errs = append(errs, field.Invalid(fp, f, mayInject+": must be an absolute path of letters, digits and _.+/- inside the image"))
		case path.Clean(f) != f || strings.Contains(f, ".."):
			errs = append(errs, field.Invalid(fp, f, "must be a clean path: no '..', '//', '.' segments or trailing '/'"))
		case f == "/":
			errs = append(errs, field.Invalid(fp, f, "must name a directory below the image's root"))
		}
	}

	errs = append(errs, validateLifecycle(c, at)...)

	if v := c.IgnitionVersion; v != "" && !slices.Contains(SupportedIgnitionVersions, v) {
		errs = append(errs, field.NotSupported(at("ignitionVersion"), v, SupportedIgnitionVersions))
	}
	return errs
}

// validateLifecycle checks the node lifecycle settings: the gate's bound, the
// bound of the fetch at shutdown and the reboot policy. Empty values take
// their defaults.
func validateLifecycle(c Config, at func(string) *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateBound(at("maxKubeletDelay"), c.MaxKubeletDelay,
		nodescripts.MinMaxKubeletDelay, nodescripts.MaxMaxKubeletDelay, "")...)
	errs = append(errs, validateBound(at("maxShutdownDelay"), c.MaxShutdownDelay,
		nodescripts.MinMaxShutdownDelay, nodescripts.MaxMaxShutdownDelay, "to fetch nothing at shutdown")...)
	if v := c.RebootPolicy; v != "" {
		var valid []string
		for _, p := range nodescripts.RebootPolicies {
			valid = append(valid, string(p))
		}
		if !slices.Contains(valid, v) {
			errs = append(errs, field.NotSupported(at("rebootPolicy"), v, valid))
		}
	}
	return errs
}

// validateBound checks a duration setting v ("" takes the default): whole
// seconds from lo to hi, or 0s when off says what 0s means.
func validateBound(path *field.Path, v string, lo, hi time.Duration, off string) field.ErrorList {
	if v == "" {
		return nil
	}
	example, within := "must be a duration such as 90s or 5m", fmt.Sprintf("must be from %s to %s", shortDuration(lo), shortDuration(hi))
	if off != "" {
		example += ", or 0s " + off
		within = "must be 0s (off) or " + strings.TrimPrefix(within, "must be ")
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(path, v, example)}
	case (off == "" || d != 0) && (d < lo || d > hi):
		return field.ErrorList{field.Invalid(path, v, within)}
	case d%time.Second != 0:
		return field.ErrorList{field.Invalid(path, v, "must be whole seconds")}
	}
	return nil
}

// validateParameters checks modprobe parameters: each "name" or
// "name=value", no name twice (the kernel reads '-' and '_' in a parameter
// name as one character, so "rx-ring" and "rx_ring" are the same).
func validateParameters(params []string, at *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, p := range params {
		fp := at.Index(i)
		m := parameterRe().FindStringSubmatch(p)
		switch {
		case p == "":
			errs = append(errs, field.Required(fp, "a parameter is name or name=value"))
		case len(p) > maxParameterLength:
			errs = append(errs, tooLong(fp, p, maxParameterLength))
		case m == nil:
			errs = append(errs, field.Invalid(fp, p,
				mayInject+": must be name or name=value: name of letters, digits, '_' and '-', not starting with '-'; value of letters, digits and _.,:/+- (no spaces, quotes or shell characters)"))
		case seen[canonicalModule(m[1])]:
			errs = append(errs, duplicate(fp, p, "another parameter has the same name (the kernel treats '-' and '_' in parameter names as one character)"))
		default:
			seen[canonicalModule(m[1])] = true
		}
	}
	return errs
}

// shortDuration writes 1h rather than time's 1h0m0s.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// duplicate is a Duplicate error that says why the two values are the same.
func duplicate(p *field.Path, v any, why string) *field.Error {
	e := field.Duplicate(p, v)
	e.Detail = why
	return e
}

func validateName(n string, p *field.Path) field.ErrorList {
	switch {
	case len(n) > maxNameLength:
		return field.ErrorList{tooLong(p, n, maxNameLength)}
	case !nameRe().MatchString(n):
		return field.ErrorList{field.Invalid(p, n, mayInject+": must start with a letter or digit and hold only letters, digits, '_', '.' and '-'")}
	}
	return nil
}

func validateModule(m string, p *field.Path, required bool) field.ErrorList {
	switch {
	case m == "" && required:
		return field.ErrorList{field.Required(p, "a kernel module name")}
	case len(m) > maxModuleLength:
		return field.ErrorList{tooLong(p, m, maxModuleLength)}
	case !moduleRe().MatchString(m):
		return field.ErrorList{field.Invalid(p, m, mayInject+": a kernel module name holds only letters, digits, '_' and '-', and does not start with '-'")}
	}
	return nil
}

func validatePool(pool string, p *field.Path) field.ErrorList {
	if pool == "" {
		return field.ErrorList{field.Required(p, "the MachineConfigPool whose nodes load the module, e.g. worker")}
	}
	return dnsErrors(p, pool, validation.IsDNS1123Label(pool))
}

func validateMachineConfigName(n string, p *field.Path) field.ErrorList {
	return dnsErrors(p, n, validation.IsDNS1123Subdomain(n))
}

func dnsErrors(p *field.Path, v string, msgs []string) field.ErrorList {
	if len(msgs) == 0 {
		return nil
	}
	return field.ErrorList{field.Invalid(p, v, refusedByMCO+": "+strings.Join(msgs, "; "))}
}

// tooLong is an Invalid error rather than field.TooLong, whose message
// leaves out the value: the user should see what they typed.
func tooLong(p *field.Path, v string, max int) *field.Error {
	return field.Invalid(p, v, fmt.Sprintf("must be at most %d characters", max))
}

// canonicalModule folds '-' to '_' as the kernel does for module and
// parameter names.
func canonicalModule(m string) string { return strings.ReplaceAll(m, "-", "_") }
