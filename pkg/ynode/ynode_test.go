package ynode

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

type inner struct {
	B string `json:"b,omitempty"`
	A *int   `json:"a,omitempty"`
}

type Embedded struct {
	Z string `json:"z"`
}

type outer struct {
	Embedded
	Name    string            `json:"name"`
	Empty   string            `json:"empty"`
	Skip    string            `json:"-"`
	Ptr     *inner            `json:"ptr,omitempty"`
	NilPtr  *inner            `json:"nilPtr,omitempty"`
	Inner   inner             `json:"inner"`
	List    []inner           `json:"list"`
	None    []string          `json:"none"`
	Labels  map[string]string `json:"labels,omitempty"`
	Enabled *bool             `json:"enabled,omitempty"`
	Mode    int               `json:"mode"`
	Quoted  string            `json:"quoted"`
	Multi   string            `json:"multi"`
	Escaped string            `json:"escaped"`
}

func TestEncode(t *testing.T) {
	one, f := 1, false
	v := outer{
		Embedded: Embedded{Z: "z"}, Name: "n", Skip: "x",
		Ptr: &inner{A: &one}, List: []inner{{}, {B: "b"}}, None: []string{},
		Labels: map[string]string{"k2": "", "k1": "v"}, Enabled: &f, Mode: 420,
		Quoted: "420", Multi: "a\nb\n", Escaped: "<&>\"é",
	}
	n, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := yaml.NewRNode(n).String()
	if err != nil {
		t.Fatal(err)
	}
	// Keys sorted; empty structs, lists and nil pointers left out, also in
	// lists; "" and false kept where the field has no omitempty or is a
	// pointer; strings that would read as another type quoted.
	want := `empty: ""
enabled: false
escaped: <&>"é
labels:
  k1: v
  k2: ""
list:
- b: b
mode: 420
multi: |
  a
  b
name: n
ptr:
  a: 1
quoted: "420"
z: z
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	// WriteJSON gives json.Marshal's bytes for the same (pruned) tree.
	var b bytes.Buffer
	if err := WriteJSON(&b, n); err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := json.Unmarshal(b.Bytes(), &tree); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	ref, _ := json.Marshal(tree)
	if b.String() != string(ref) {
		t.Errorf("WriteJSON:\n%s\njson.Marshal:\n%s", b.String(), ref)
	}
}

func TestEncodeRefusesUnknownShapes(t *testing.T) {
	for _, v := range []any{
		struct {
			F float64 `json:"f"`
		}{1.5},
		struct {
			R json.RawMessage `json:"r"`
		}{json.RawMessage(`{}`)},
		map[int]string{1: "a"},
	} {
		if _, err := Encode(v); err == nil || !strings.Contains(err.Error(), "ynode:") {
			t.Errorf("Encode(%T) = %v, want a ynode error", v, err)
		}
	}
}

func TestEncodeEmpty(t *testing.T) {
	n, err := Encode(struct {
		A []string `json:"a"`
		B *int     `json:"b"`
	}{})
	if err != nil || n != nil {
		t.Errorf("an empty value encodes to (%v, %v), want nothing", n, err)
	}
}
