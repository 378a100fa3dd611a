package function

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kyamlWrites is what kyaml's own writer makes of in, read and written
// back with no stand-ins: what Execute must write for a pass-through.
func kyamlWrites(t *testing.T, in []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: &out, OmitReaderAnnotations: true, KeepReaderAnnotations: true}
	nodes, err := rw.Read()
	if err != nil {
		t.Fatal(err)
	}
	rw.WrappingKind, rw.WrappingAPIVersion = kio.ResourceListKind, kio.ResourceListAPIVersion
	if err := rw.Write(nodes); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var passThrough = fn.ResourceListProcessorFunc(func(*fn.ResourceList) (bool, error) { return true, nil })

// Long data: URLs in every scalar style and in flow collections, among
// other long values: the stand-ins change no byte of what kyaml writes.
func TestStandInsChangeNoByte(t *testing.T) {
	b64 := strings.Repeat("H4sIAAAAAAAC/7R9+XvaSJLwz+ivqBF4", 64)
	url := "data:;base64," + b64
	in := fmt.Sprintf(`apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: styles
  data:
    plain: %[1]s
    double: "%[1]s"
    single: '%[1]s'
    literal: |-
      %[1]s
    folded: >-
      %[1]s
    flow: {a: "%[1]s", b: ["%[1]s"]}
    list:
    - %[1]s
    - "%[1]s"
    binary: !!binary %[2]s
    tagged: !custom %[1]s
    spaced: "%[1]s %[1]s"
    number: "%[3]s"
    ? %[1]s
    : a long key
- {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json"}, "data": {"k": "%[1]s"}}
`, url, b64, strings.Repeat("1", 2000))
	var out bytes.Buffer
	if _, err := Execute(passThrough, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if want := kyamlWrites(t, []byte(in)); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("Execute wrote\n%.3000s\nkyaml writes\n%.3000s", out.Bytes(), want)
	}
	if !strings.Contains(out.String(), "plain: "+url+"\n") {
		t.Error("the plain data: URL is not in the output as it is")
	}

	// A plain value that a processor puts into a flow collection: there
	// the encoder quotes it (for its ',').
	flow := func() []*yaml.RNode {
		n := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flow}\ndata: {a: b}\n")
		n.Field("data").Value.Field("a").Value.YNode().Value = url
		return []*yaml.RNode{n}
	}
	add := fn.ResourceListProcessorFunc(func(rl *fn.ResourceList) (bool, error) {
		rl.Items = append(rl.Items, fn.MoveToKubeObject(flow()[0]))
		return true, nil
	})
	out.Reset()
	if _, err := Execute(add, strings.NewReader("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n"), &out); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := (kio.ByteWriter{Writer: &want, WrappingKind: kio.ResourceListKind, WrappingAPIVersion: kio.ResourceListAPIVersion, KeepReaderAnnotations: true}).Write(flow()); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("a data: URL in a flow collection: Execute wrote\n%.600s\nkyaml writes\n%.600s", out.String(), want.String())
	}
}

// The golden outputs (generated MachineConfigs among others) read back and
// written by Execute are written by kyaml the same.
func TestStandInsChangeNoByteOfGoldenOutput(t *testing.T) {
	files, err := filepath.Glob("testdata/*/_expected.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("found %d golden outputs (%v)", len(files), err)
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := Execute(passThrough, bytes.NewReader(in), &out); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if want := kyamlWrites(t, in); !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s: Execute and kyaml write it differently", f)
		}
	}
}

// Values that stand-ins take out, and those they leave.
func TestStandInable(t *testing.T) {
	url := "data:;base64," + strings.Repeat("QUJD", 300)
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{url, true},
		{"data:,text%20in%20a%20url" + strings.Repeat("a", 2000), false}, // '%': not needed, not taken
		{url[:minStandIn-1], false},
		{strings.TrimPrefix(url, "data:"), false},
		{url + " ", false},
		{url + "#", false},
		{url + "\"", false},
		{url + "é", false},
		{url + "\n", false},
	} {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: tc.v}
		if got := standInable(n); got != tc.want {
			t.Errorf("%.40q...: %v, want %v", tc.v, got, tc.want)
		}
	}
}

// A stand-in comes back whole however the encoder cuts the stream, and text
// that only looks like one passes.
func TestPutBackAcrossWrites(t *testing.T) {
	s := &standIns{token: "day1kmod-stand-in-0123456789abcdef0123456789abcdef-", values: []string{"FIRST", "SECOND"}}
	tok := func(i int) string { return fmt.Sprintf("%s%0*d", s.token, standInDigits, i) }
	stream := "a: " + tok(0) + "\nb: " + tok(1) + "\nd: day1kmod-stand-in-\n" + tok(0)
	want := "a: FIRST\nb: SECOND\nd: day1kmod-stand-in-\nFIRST"
	for size := 1; size <= len(stream); size++ {
		var out bytes.Buffer
		p := &putBack{w: &out, s: s}
		for i := 0; i < len(stream); i += size {
			if _, err := p.Write([]byte(stream[i:min(i+size, len(stream))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("writes of %d bytes: got %q", size, out.String())
		}
	}
	for _, broken := range []string{tok(7), s.token + "0000000x"} {
		p := &putBack{w: &bytes.Buffer{}, s: s}
		if _, err := p.Write([]byte(broken)); err == nil {
			t.Errorf("%s passed", broken)
		}
	}
}
