package function

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
)

// The reference (docs/reference.md) must not drift from the code: its
// tables list exactly the fields of the Go types, and what they state of a
// field's default, range and values is what --help states, which in turn is
// what the code does.

const referenceDoc = "../docs/reference.md"

// specPaths lists the JSON paths of the fields of a spec type: embedded
// structs flattened, this module's own struct types walked into
// ("additionalModules[].name"), Kubernetes' types (a LabelSelector, which
// meta.go mirrors) not.
func specPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			out = append(out, specPaths(f.Type, prefix)...)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		out = append(out, prefix+name)
		ft, list := f.Type, ""
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			if ft.Kind() == reflect.Slice {
				list = "[]"
			}
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && strings.HasPrefix(ft.PkgPath(), "github.com/day1kmod/day1kmod/") && ft != reflect.TypeFor[LabelSelector]() {
			out = append(out, specPaths(ft, prefix+name+list+".")...)
		}
	}
	return out
}

// docTable returns the rows of the table right after "<!-- fields: NAME -->"
// in the reference, each a list of cells with code spans unquoted.
func docTable(t *testing.T, name string) [][]string {
	t.Helper()
	b, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "<!-- fields: "+name+" -->\n")
	if !ok {
		t.Fatalf("%s has no table marked <!-- fields: %s -->", referenceDoc, name)
	}
	var rows [][]string
	for i, l := range strings.Split(after, "\n") {
		if !strings.HasPrefix(l, "|") {
			break
		}
		if i < 2 { // header and separator
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(l, "|"), "|") {
			cells = append(cells, strings.TrimSpace(strings.ReplaceAll(c, "`", "")))
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		t.Fatalf("the table marked %s in %s is empty", name, referenceDoc)
	}
	return rows
}

// helpSpec reads the spec of the Day1KernelModule in --help: each field's
// path and the text of its comment (continuation lines joined).
func helpSpec(t *testing.T) (map[string]string, []string) {
	t.Helper()
	_, spec, ok := strings.Cut(Usage, "\n  spec:\n")
	if !ok {
		t.Fatal("--help shows no Day1KernelModule spec")
	}
	spec, _, _ = strings.Cut(spec, "\n\n")
	type level struct {
		indent int
		path   string
		list   bool
	}
	var stack []*level
	comments := map[string]string{}
	var order []string
	last := ""
	for _, l := range strings.Split(spec, "\n") {
		text := strings.TrimLeft(l, " ")
		indent := len(l) - len(text)
		if strings.HasPrefix(text, "#") {
			comments[last] = strings.TrimSpace(comments[last] + " " + strings.TrimSpace(strings.TrimLeft(text, "#")))
			continue
		}
		item := strings.HasPrefix(text, "- ")
		if item {
			text, indent = text[2:], indent+2
		}
		key, rest, ok := strings.Cut(text, ":")
		if !ok {
			t.Fatalf("--help spec line %q is not key: value", l)
		}
		_, comment, _ := strings.Cut(rest, "#")
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		path := key
		if len(stack) > 0 {
			p := stack[len(stack)-1]
			if item {
				p.list = true
			}
			sep := "."
			if p.list {
				sep = "[]."
			}
			path = p.path + sep + key
		}
		stack = append(stack, &level{indent: indent, path: path})
		comments[path] = strings.TrimSpace(comment)
		order = append(order, path)
		last = path
	}
	return comments, order
}

// How a --help comment states a field's default ("BeforeKubelet (default)",
// "default 5m, 30s..1h: ...", "default: 99-<pool>-<metadata.name>") and its
// range ("30s..1h").
var (
	helpDefaultAfter  = regexp.MustCompile(`(\S+) \(default\b`)
	helpDefaultBefore = regexp.MustCompile(`\bdefault:? (.+?)(?:; |: |\. |$)`)
	helpRange         = regexp.MustCompile(`(\S+?)\.\.(\S+?)(?:[,:;)]|\s|$)`)
	trailingRange     = regexp.MustCompile(`,\s*\S+\.\.\S+$`)
)

// helpClaims is what a field's --help comment states.
type helpClaims struct{ required, def, rng string }

func claims(comment string) helpClaims {
	var c helpClaims
	switch {
	case strings.HasPrefix(comment, "required in it"):
		c.required = "required in it"
	case strings.HasPrefix(comment, "required"):
		c.required = "required"
	}
	if m := helpDefaultAfter.FindStringSubmatch(comment); m != nil {
		c.def = m[1]
	} else if m := helpDefaultBefore.FindStringSubmatch(comment); m != nil {
		c.def = trailingRange.ReplaceAllString(m[1], "")
	}
	if m := helpRange.FindStringSubmatch(comment); m != nil {
		c.rng = m[1] + ".." + m[2]
	}
	return c
}

func TestReferenceFieldsAreTheGoFields(t *testing.T) {
	goPaths := specPaths(reflect.TypeOf(Day1KernelModuleSpec{}), "")
	var docPaths []string
	for _, r := range docTable(t, Kind) {
		docPaths = append(docPaths, strings.TrimPrefix(r[0], "spec."))
	}
	for _, p := range goPaths {
		if !slices.Contains(docPaths, p) {
			t.Errorf("spec.%s is a field of %s but has no row in the table of %s", p, Kind, referenceDoc)
		}
	}
	for _, p := range docPaths {
		if !slices.Contains(goPaths, p) {
			t.Errorf("%s has a row for spec.%s, which is no field of %s (fields: %s)", referenceDoc, p, Kind, strings.Join(goPaths, ", "))
		}
	}
	// --help lists the same fields (nodeSelector's own, a LabelSelector's, aside).
	help, _ := helpSpec(t)
	for _, p := range goPaths {
		if _, ok := help[p]; !ok {
			t.Errorf("day1kmod --help does not show spec.%s", p)
		}
	}
	for p := range help {
		if !slices.Contains(goPaths, p) && !strings.HasPrefix(p, "machineConfigPoolSpec.nodeSelector.") {
			t.Errorf("day1kmod --help shows spec.%s, which is no field of %s", p, Kind)
		}
	}
	// The complete example sets every field.
	example := readmeBlock(t, "day1kernelmodule")
	for _, p := range goPaths {
		leaf := p[strings.LastIndexAny(p, ".")+1:]
		if !regexp.MustCompile(`(?m)^\s*(- )?` + regexp.QuoteMeta(leaf) + `:`).MatchString(example) {
			t.Errorf("the reference's complete Day1KernelModule does not set spec.%s", p)
		}
	}
}

// What --help says of a field's default, range and requiredness, the
// reference's table says too.
func TestReferenceMatchesHelp(t *testing.T) {
	help, order := helpSpec(t)
	rows := map[string][]string{}
	for _, r := range docTable(t, Kind) {
		if len(r) < 4 {
			t.Fatalf("row %v: want field, default, values, what it does", r)
		}
		rows[strings.TrimPrefix(r[0], "spec.")] = r
	}
	checked := 0
	for _, p := range order {
		r, ok := rows[p]
		if !ok {
			continue // TestReferenceFieldsAreTheGoFields reports it
		}
		c := claims(help[p])
		def, values := r[1], r[2]
		if c.required != "" && !strings.HasPrefix(def, c.required) {
			t.Errorf("spec.%s: --help says %q, the reference's default column says %q", p, c.required, def)
		}
		if c.def != "" && !strings.Contains(def, c.def) {
			t.Errorf("spec.%s: --help says the default is %q, the reference says %q", p, c.def, def)
		}
		if c.rng != "" && !strings.Contains(values, c.rng) {
			t.Errorf("spec.%s: --help says the range is %s, the reference's values column says %q", p, c.rng, values)
		}
		if c != (helpClaims{}) {
			checked++
		}
	}
	if checked < 5 {
		t.Errorf("only %d fields' defaults or ranges read from --help: the parser is broken", checked)
	}
}

// What --help (and so the reference) says is what the code does: the
// required fields, the defaults WithDefaults fills in, the range and the
// values Validate accepts.
func TestHelpMatchesCode(t *testing.T) {
	help, _ := helpSpec(t)
	for _, e := range (machineconfig.Config{}).Validate(nil, nil) {
		if e.Type == field.ErrorTypeRequired && claims(help[e.Field]).required == "" {
			t.Errorf("spec.%s is required (%s), --help does not say so: %q", e.Field, e.Detail, help[e.Field])
		}
	}

	base := machineconfig.Config{MachineConfigPool: "worker", KernelModuleImage: "quay.io/acme/ice-kmod", KernelModuleName: "ice"}
	def := reflect.ValueOf(base.WithDefaults())
	bv := reflect.ValueOf(base)
	ty := bv.Type()
	defaults := 0
	for i := 0; i < ty.NumField(); i++ {
		name, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
		if ty.Field(i).Type.Kind() != reflect.String || name == "-" || bv.Field(i).String() != "" || def.Field(i).String() == "" {
			continue
		}
		defaults++
		stated := claims(help[name]).def
		stated = strings.NewReplacer("<pool>", base.MachineConfigPool, "<metadata.name>", base.KernelModuleName).Replace(stated)
		if stated != def.Field(i).String() {
			t.Errorf("spec.%s: WithDefaults gives %q, --help says the default is %q", name, def.Field(i).String(), claims(help[name]).def)
		}
	}
	if defaults < 3 {
		t.Errorf("only %d defaulted fields found", defaults)
	}

	// A bad value shows the range or the values Validate accepts.
	rangeRE := regexp.MustCompile(`must be from (\S+) to (\S+)`)
	quoted := regexp.MustCompile(`"([^"]*)"`)
	for i := 0; i < ty.NumField(); i++ {
		f, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
		if ty.Field(i).Type.Kind() != reflect.String || f == "-" {
			continue
		}
		reported := map[string]bool{} // both bad values may show the same list
		for _, bad := range []string{"1ns", "no-such-value"} {
			c := base
			reflect.ValueOf(&c).Elem().Field(i).SetString(bad)
			for _, e := range c.Validate(nil, nil) {
				if e.Field != f || reported[e.Detail] {
					continue
				}
				reported[e.Detail] = true
				if m := rangeRE.FindStringSubmatch(e.Detail); m != nil {
					if want := m[1] + ".." + m[2]; claims(help[f]).rng != want {
						t.Errorf("spec.%s: Validate accepts %s, --help says %q", f, want, help[f])
					}
				}
				if e.Type == field.ErrorTypeNotSupported {
					row := tableRow(t, f)
					for _, m := range quoted.FindAllStringSubmatch(e.Detail, -1) {
						if !strings.Contains(help[f], m[1]) {
							t.Errorf("spec.%s: Validate accepts %q, --help does not name it: %q", f, m[1], help[f])
						}
						if !strings.Contains(row[2], m[1]) {
							t.Errorf("spec.%s: Validate accepts %q, the reference's values column does not name it: %q", f, m[1], row[2])
						}
					}
				}
			}
		}
	}
}

func tableRow(t *testing.T, path string) []string {
	t.Helper()
	for _, r := range docTable(t, Kind) {
		if strings.TrimPrefix(r[0], "spec.") == path {
			return r
		}
	}
	t.Fatalf("no row for spec.%s in %s", path, referenceDoc)
	return nil
}

// The ConfigMap table lists exactly the keys the function reads, and --help
// names them all.
func TestReferenceConfigMapKeys(t *testing.T) {
	var doc []string
	for _, r := range docTable(t, "ConfigMap") {
		doc = append(doc, r[0])
	}
	if a, b := sorted(doc), sorted(configMapKeys); !slices.Equal(a, b) {
		t.Errorf("the ConfigMap table of %s lists\n  %v\nthe function reads\n  %v", referenceDoc, a, b)
	}
	_, keys, _ := strings.Cut(Usage, "  Keys:")
	keys, _, _ = strings.Cut(keys, "An empty value")
	for _, k := range configMapKeys {
		if !strings.Contains(keys, k) {
			t.Errorf("--help's ConfigMap keys lack %s", k)
		}
	}
}

// The BootModuleConfig table lists exactly KMM's fields, each mapped onto
// the Day1KernelModule field the function maps it to.
func TestReferenceBootModuleConfigFields(t *testing.T) {
	kmm := jsonFields(reflect.TypeOf(BootModuleConfigSpec{}))
	d1 := specPaths(reflect.TypeOf(Day1KernelModuleSpec{}), "")
	var doc []string
	for _, r := range docTable(t, BootModuleConfigKind) {
		doc = append(doc, r[0])
		to := r[1]
		switch {
		case to == "—":
			if slices.Contains(d1, r[0]) {
				t.Errorf("%s: %s is mapped to nothing, but a Day1KernelModule has it", referenceDoc, r[0])
			}
		case !slices.Contains(d1, to):
			t.Errorf("%s: %s is mapped to %s, no Day1KernelModule field", referenceDoc, r[0], to)
		case to != r[0] && bmcFields[to] != r[0]:
			t.Errorf("%s: %s is mapped to %s, the function maps %s to %q", referenceDoc, r[0], to, to, bmcFields[to])
		}
	}
	if a, b := sorted(doc), sorted(kmm); !slices.Equal(a, b) {
		t.Errorf("the BootModuleConfig table of %s lists\n  %v\nthe function reads\n  %v", referenceDoc, a, b)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// The --help parser reads what it is meant to read.
func TestHelpSpecParser(t *testing.T) {
	help, _ := helpSpec(t)
	for p, want := range map[string]helpClaims{
		"kernelModuleName":                   {required: "required"},
		"machineConfigName":                  {def: "99-<pool>-<metadata.name>"},
		"maxKubeletDelay":                    {def: "5m", rng: "30s..1h"},
		"rebootPolicy":                       {def: "BeforeKubelet"},
		"ignitionVersion":                    {def: "3.2.0"},
		"machineConfigPoolSpec.nodeSelector": {required: "required in it"},
	} {
		if got := claims(help[p]); got != want {
			t.Errorf("claims(--help of spec.%s) = %+v, want %+v (comment %q)", p, got, want, help[p])
		}
	}
	if _, ok := help["additionalModules[].parameters"]; !ok {
		t.Errorf("list items not read: %v", keys(help))
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
