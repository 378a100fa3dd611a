package function

import (
	"reflect"
	"strings"

	"github.com/day1kmod/day1kmod/pkg/lazyregexp"
)

// jsonFields lists the JSON field names of a struct type, embedded structs
// included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// topLevel are the fields every object has.
var topLevel = []string{"apiVersion", "kind", "metadata", "spec", "status"}

// knownFields are the fields a path can hold, per kind, for "did you mean"
// hints. Paths have their list indexes removed.
var knownFields = map[string]map[string][]string{
	Kind: {
		"":                           topLevel,
		"spec":                       jsonFields(reflect.TypeOf(Day1KernelModuleSpec{})),
		"spec.machineConfigPoolSpec": jsonFields(reflect.TypeOf(PoolSpec{})),
		"spec.additionalModules":     {"name", "parameters"},
	},
	BootModuleConfigKind: {
		"":     topLevel,
		"spec": jsonFields(reflect.TypeOf(BootModuleConfigSpec{})),
	},
	"ConfigMap": {"data": configMapKeys},
}

var indexRE = lazyregexp.New(`\[\d+\]`)

// suggest returns the known field of kind at parent nearest to name (by
// edit distance, ignoring case, a swap of two neighbours counting as one
// edit), or "" when none is near. Of two equally near, the first listed.
func suggest(kind, parent, name string) string {
	if r, ok := bmcFields[name]; ok && kind == BootModuleConfigKind && parent == "spec" {
		return r // a Day1KernelModule field in KMM's object
	}
	best, bestD := "", len(name)/2+1
	if bestD > 4 {
		bestD = 4
	}
	for _, c := range knownFields[kind][indexRE().ReplaceAllString(parent, "")] {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the optimal string alignment distance of a and b:
// Levenshtein's insertions, deletions and substitutions, plus the swap of
// two adjacent characters (the commonest typo: "Nmae", "sepc") as one edit.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
