package function

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"github.com/kptdev/krm-functions-sdk/go/fn"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/day1kmod/day1kmod/pkg/lazyregexp"
)

// source is one decoded Day1KernelModule (from the functionConfig, an item,
// or a ConfigMap functionConfig) with where it came from.
type source struct {
	obj    *fn.KubeObject // the object as read, for results
	spec   Day1KernelModuleSpec
	name   string // N
	isItem bool   // found among the items
	// specPath and namePath are where the fields live in obj, for results.
	specPath, namePath *field.Path
	kind               string            // of obj; "" = Kind
	renames            map[string]string // spec field names of obj that differ from ours
	notes              []note            // from decoding, given when it generates
	// mc is the MachineConfig, built once by validate (the gate builds it
	// to check the MCO's rules) and emitted by generate.
	mc *yaml.RNode
}

// ref is the value of SourceAnnotation for output of this source.
func (s *source) ref() string { return s.kindName() + "/" + s.name }

func (s *source) kindName() string {
	if s.kind == "" {
		return Kind
	}
	return s.kind
}

// at is the path of our spec field f in the source object.
func (s *source) at(f string) *field.Path {
	if r, ok := s.renames[f]; ok {
		f = r
	}
	return s.specPath.Child(f)
}

// renamed rewrites the paths of errs from our field names to the source's.
func (s *source) renamed(errs field.ErrorList) field.ErrorList {
	prefix := s.specPath.String() + "."
	for _, e := range errs {
		for ours, theirs := range s.renames {
			if e.Field == prefix+ours || strings.HasPrefix(e.Field, prefix+ours+"[") {
				e.Field = prefix + theirs + strings.TrimPrefix(e.Field, prefix+ours)
			}
		}
	}
	return errs
}

// path is the kpt file path of the source object ("" when it has none).
func objPath(o *fn.KubeObject) string {
	if p := o.GetAnnotation(kioutil.PathAnnotation); p != "" {
		return p
	}
	return o.GetAnnotation(kioutil.LegacyPathAnnotation)
}

func objIndex(o *fn.KubeObject) (int, bool) {
	v := o.GetAnnotation(kioutil.IndexAnnotation)
	if v == "" {
		v = o.GetAnnotation(kioutil.LegacyIndexAnnotation)
	}
	if v == "" {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	return i, err == nil
}

// isDay1KernelModule reports whether o is of our kind (any version of our group).
func isDay1KernelModule(o *fn.KubeObject) bool {
	gv := o.GetAPIVersion()
	return o.GetKind() == Kind && (gv == APIVersion || strings.HasPrefix(gv, Group+"/"))
}

// decodeDay1KernelModule decodes o strictly: unknown or duplicate fields and
// wrong types are errors naming the field. The source is nil only when
// nothing could be decoded.
func decodeDay1KernelModule(o *fn.KubeObject, isItem bool) (*source, field.ErrorList) {
	var errs field.ErrorList
	if o.GetAPIVersion() != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), o.GetAPIVersion(), []string{APIVersion}))
		return nil, errs
	}
	if dups := duplicateKeys(o); len(dups) > 0 {
		return nil, dups
	}
	raw, err := o.CopyToResourceNode().MarshalJSON()
	if err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("spec"), nil, fmt.Sprintf("cannot convert to JSON: %v", err))}
	}
	var d Day1KernelModule
	strict, err := sigsjson.UnmarshalStrict(raw, &d)
	if err != nil {
		errs = append(errs, jsonError(o, err))
		return nil, errs
	}
	for _, se := range strict {
		errs = append(errs, strictError(o, se))
	}
	if d.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "the name every node path and unit of this module derives from"))
	}
	if _, hasSpec, _ := o.NestedSubObject("spec"); !hasSpec && len(errs) > 0 {
		// A mistyped "spec": every field would be reported missing.
		return nil, errs
	}
	// Unknown or duplicate fields left the rest decoded: return it too, so
	// that validation reports every other problem in the same run.
	d.Spec.Name = d.Name
	return &source{
		obj:      o,
		spec:     d.Spec,
		name:     d.Name,
		isItem:   isItem,
		specPath: field.NewPath("spec"),
		namePath: field.NewPath("metadata", "name"),
	}, errs
}

var typeErrorRE = lazyregexp.New(`cannot unmarshal (\w+) into Go struct field \S+ of type (\S+)`)

// jsonError turns a decoding error into a field error. Type errors from the
// decoder carry the field path in their text ("... into Go struct field
// Day1KernelModule.spec.kernelModuleName of type string").
func jsonError(o *fn.KubeObject, err error) *field.Error {
	msg := err.Error()
	path := field.NewPath("spec")
	const marker = "Go struct field "
	if i := strings.Index(msg, marker); i >= 0 {
		rest := msg[i+len(marker):]
		if j := strings.Index(rest, " "); j >= 0 {
			rest = rest[:j]
		}
		// rest is "Day1KernelModuleSpec.spec.Config.kernelModuleName": the
		// first segment is the Go type, "Config" the embedded struct.
		if k := strings.Index(rest, "."); k >= 0 {
			path = parsePath(strings.ReplaceAll(rest[k+1:], ".Config.", "."))
		}
	}
	if m := typeErrorRE().FindStringSubmatch(msg); m != nil {
		msg = "must be " + yamlType(m[2]) + ", not " + yamlType(m[1])
		if m[2] == "[]string" && m[1] == "string" {
			msg += fmt.Sprintf(" (write [%v])", lookupValue(o, path.String()))
		}
	}
	return field.Invalid(path, lookupValue(o, path.String()), strings.TrimPrefix(msg, "json: "))
}

// yamlType names a Go or JSON type as a YAML author knows it.
func yamlType(t string) string {
	switch {
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]") || t == "array":
		return "a list"
	case strings.HasPrefix(t, "map[") || t == "object" || strings.Contains(t, "."):
		return "a mapping"
	case t == "bool":
		return "true or false"
	case t == "number" || strings.HasPrefix(t, "int"):
		return "a number"
	}
	return t
}

func strictError(o *fn.KubeObject, se error) *field.Error {
	var fe sigsjson.FieldError
	p := ""
	if errors.As(se, &fe) {
		p = fe.FieldPath()
	}
	if p == "" {
		return field.Invalid(field.NewPath("spec"), nil, se.Error())
	}
	path := parsePath(p)
	msg := se.Error()
	if strings.Contains(msg, "unknown field") {
		msg := "unknown field"
		parent, name := "", p
		if i := strings.LastIndex(p, "."); i >= 0 {
			parent, name = p[:i], p[i+1:]
		}
		if s := suggest(o.GetKind(), parent, name); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		} else {
			msg += " (day1kmod --help lists the fields of " + o.GetKind() + ")"
		}
		return unknown(path, lookupValue(o, p), msg)
	}
	return field.Duplicate(path, lookupValue(o, p))
}

// unknown is the error for a field the function does not know.
func unknown(p *field.Path, value any, msg string) *field.Error {
	fe := field.Forbidden(p, msg)
	fe.BadValue = value
	fe.Origin = originUnknown
	return fe
}

const originUnknown = "unknownField"

// splitSegment splits one segment of a dotted path, "b[1][2]", into its
// name and indexes.
func splitSegment(part string) (name string, idx []int) {
	name = part
	if b := strings.Index(part, "["); b >= 0 {
		name = part[:b]
		for _, seg := range strings.Split(part[b:], "[") {
			if n, err := strconv.Atoi(strings.TrimSuffix(seg, "]")); err == nil {
				idx = append(idx, n)
			}
		}
	}
	return name, idx
}

// parsePath turns "spec.a.b[1].c" into a field.Path.
func parsePath(s string) *field.Path {
	var p *field.Path
	for _, part := range strings.Split(s, ".") {
		name, idx := splitSegment(part)
		if p == nil {
			p = field.NewPath(name)
		} else {
			p = p.Child(name)
		}
		for _, n := range idx {
			p = p.Index(n)
		}
	}
	return p
}

// lookupValue returns the value at a dotted path in o, or nil.
func lookupValue(o *fn.KubeObject, p string) any {
	var cur any
	if err := o.As(&cur); err != nil {
		return nil
	}
	for _, part := range strings.Split(p, ".") {
		name, idx := splitSegment(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[name]
		for _, n := range idx {
			l, ok := cur.([]any)
			if !ok || n >= len(l) {
				return nil
			}
			cur = l[n]
		}
	}
	return cur
}

// ConfigMap functionConfig keys. Lists are comma-separated, except
// moduleParameters which is separated by white space like a modprobe command
// line (an array parameter takes commas: "arr=1,2,3"), and additionalModules:
// modules separated by ';', each its name and parameters like a modprobe
// command line ("irdma roce_ena=1; mlx5_ib"). A key given with an
// empty value is an explicit empty list: "inTreeModulesToRemove=" removes
// nothing; leaving the key out keeps the default.
const (
	cmName                  = "name"
	cmMachineConfigName     = "machineConfigName"
	cmMachineConfigPool     = "machineConfigPool"
	cmKernelModuleImage     = "kernelModuleImage"
	cmKernelModuleName      = "kernelModuleName"
	cmInTreeModulesToRemove = "inTreeModulesToRemove"
	cmModuleParameters      = "moduleParameters"
	cmFirmwarePath          = "firmwarePath"
	cmAdditionalModules     = "additionalModules"
	cmIgnitionVersion       = "ignitionVersion"
	cmMaxKubeletDelay       = "maxKubeletDelay"
	cmRebootPolicy          = "rebootPolicy"
	cmMaxShutdownDelay      = "maxShutdownDelay"
	cmPoolNodeSelector      = "machineConfigPoolSpec.nodeSelector"
	cmPoolMaxUnavailable    = "machineConfigPoolSpec.maxUnavailable"
	cmPoolPaused            = "machineConfigPoolSpec.paused"
)

var configMapKeys = []string{
	cmName, cmMachineConfigName, cmMachineConfigPool, cmKernelModuleImage, cmKernelModuleName,
	cmInTreeModulesToRemove, cmModuleParameters, cmAdditionalModules, cmFirmwarePath, cmIgnitionVersion,
	cmMaxKubeletDelay, cmRebootPolicy, cmMaxShutdownDelay, cmPoolNodeSelector, cmPoolMaxUnavailable, cmPoolPaused,
}

// additional turns "name param..." entries into modules.
func additional(entries []string) []machineconfig.ModuleSpec {
	var out []machineconfig.ModuleSpec
	for _, e := range entries {
		words := strings.Fields(e)
		out = append(out, machineconfig.ModuleSpec{Name: words[0], Parameters: words[1:]})
	}
	return out
}

// decodeConfigMap reads the flat keys of a ConfigMap functionConfig.
func decodeConfigMap(o *fn.KubeObject) (*source, field.ErrorList) {
	data := field.NewPath("data")
	if dups := duplicateKeys(o); len(dups) > 0 {
		return nil, dups
	}
	var errs field.ErrorList
	m, _, err := o.NestedStringMap("data")
	if err != nil {
		return nil, field.ErrorList{field.Invalid(data, nil, "every value must be a string: "+err.Error())}
	}
	known := map[string]bool{}
	for _, k := range configMapKeys {
		known[k] = true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			msg := "unknown key; the keys are " + strings.Join(configMapKeys, ", ")
			if s := suggest("ConfigMap", "data", k); s != "" {
				msg = fmt.Sprintf("unknown key (did you mean %s?)", s)
			}
			errs = append(errs, unknown(data.Child(k), m[k], msg))
		}
	}
	splitList := func(key string, sep func(string) []string) []string {
		v, ok := m[key]
		if !ok {
			return nil
		}
		out := []string{}
		if strings.TrimSpace(v) == "" {
			return out
		}
		for i, e := range sep(v) {
			e = strings.TrimSpace(e)
			if e == "" {
				errs = append(errs, field.Invalid(data.Child(key).Index(i), v, "empty list element"))
				continue
			}
			out = append(out, e)
		}
		return out
	}
	comma := func(s string) []string { return strings.Split(s, ",") }
	spec := Day1KernelModuleSpec{Config: machineconfig.Config{
		Name:                  m[cmName],
		MachineConfigName:     m[cmMachineConfigName],
		MachineConfigPool:     m[cmMachineConfigPool],
		KernelModuleImage:     m[cmKernelModuleImage],
		KernelModuleName:      m[cmKernelModuleName],
		InTreeModulesToRemove: splitList(cmInTreeModulesToRemove, comma),
		ModuleParameters:      splitList(cmModuleParameters, strings.Fields),
		AdditionalModules:     additional(splitList(cmAdditionalModules, func(s string) []string { return strings.Split(s, ";") })),
		FirmwarePath:          m[cmFirmwarePath],
		IgnitionVersion:       m[cmIgnitionVersion],
		MaxKubeletDelay:       m[cmMaxKubeletDelay],
		RebootPolicy:          m[cmRebootPolicy],
		MaxShutdownDelay:      m[cmMaxShutdownDelay],
	}}
	_, hasSel := m[cmPoolNodeSelector]
	_, hasMax := m[cmPoolMaxUnavailable]
	_, hasPaused := m[cmPoolPaused]
	if hasSel || hasMax || hasPaused {
		ps := &PoolSpec{}
		if hasSel {
			labels := map[string]string{}
			for i, kv := range splitList(cmPoolNodeSelector, comma) {
				k, v, _ := strings.Cut(kv, "=")
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
				if _, dup := labels[k]; dup {
					errs = append(errs, duplicate(data.Child(cmPoolNodeSelector).Index(i), k, "the label "+k+" is given twice"))
					continue
				}
				labels[k] = v
			}
			ps.NodeSelector = &LabelSelector{MatchLabels: labels}
		}
		if hasMax {
			v := intstr.Parse(strings.TrimSpace(m[cmPoolMaxUnavailable]))
			ps.MaxUnavailable = &v
		}
		if hasPaused {
			b, err := strconv.ParseBool(strings.TrimSpace(m[cmPoolPaused]))
			if err != nil {
				errs = append(errs, field.Invalid(data.Child(cmPoolPaused), m[cmPoolPaused], "must be true or false"))
			}
			ps.Paused = b
		}
		spec.MachineConfigPoolSpec = ps
	}
	// As with a Day1KernelModule, the source is returned with its errors so
	// that validation reports the other problems too.
	name := spec.Name
	if name == "" {
		name = spec.KernelModuleName
	}
	return &source{
		obj:      o,
		spec:     spec,
		name:     name,
		specPath: data,
		namePath: data.Child(cmName),
	}, errs
}

// duplicateKeys reports every mapping key of n (an object as read) that
// appears twice, at the doubled key's own path: YAML forbids them, and the
// decoders would keep one value silently or fail without saying where.
func duplicateKeys(o *fn.KubeObject) field.ErrorList {
	var errs field.ErrorList
	var walk func(n *yaml.Node, p *field.Path)
	walk = func(n *yaml.Node, p *field.Path) {
		child := func(k string) *field.Path {
			if p == nil {
				return field.NewPath(k)
			}
			return p.Child(k)
		}
		switch n.Kind {
		case yaml.MappingNode:
			first := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if line, dup := first[k.Value]; dup {
					var value any
					if v.Kind == yaml.ScalarNode {
						value = v.Value
					}
					errs = append(errs, duplicate(child(k.Value), value,
						fmt.Sprintf("the key %s appears twice (lines %d and %d): a YAML key may appear once", k.Value, line, k.Line)))
					continue
				}
				first[k.Value] = k.Line
				walk(v, child(k.Value))
			}
		case yaml.SequenceNode:
			for i, e := range n.Content {
				walk(e, p.Index(i))
			}
		}
	}
	walk(o.CopyToResourceNode().YNode(), nil)
	return errs
}

// duplicate is a Duplicate error that says why.
func duplicate(p *field.Path, v any, why string) *field.Error {
	e := field.Duplicate(p, v)
	e.Detail = why
	return e
}
