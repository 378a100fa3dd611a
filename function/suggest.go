package function

import (
	"reflect"
	"strings"
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

// knownFields are the fields a path can hold, for "did you mean" hints.
var knownFields = map[string][]string{
	"spec":                       jsonFields(reflect.TypeOf(Day1KernelModuleSpec{})),
	"spec.machineConfigPoolSpec": jsonFields(reflect.TypeOf(PoolSpec{})),
	"data":                       configMapKeys,
}

// suggest returns the known field closest to name (a small edit distance,
// ignoring case), or "".
func suggest(parent, name string) string {
	best, bestD := "", 4
	for _, c := range knownFields[parent] {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
