package function

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

func itemNames(t *testing.T, rl []byte) []string {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(rl), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.GetKind()+"/"+n.GetName())
	}
	return names
}

// Why main does not use fn.AsMain: the SDK's writer sorts the items by
// apiVersion, kind and name, so pass-through items would not keep their
// order. Execute keeps it and appends the generated items.
func TestExecuteKeepsOrderWhereTheSDKSorts(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "passthrough-comments", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	input := itemNames(t, in)
	ours, _, code := run(t, in)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	got := itemNames(t, ours)
	if want := append(slices.Clone(input), "MachineConfig/99-worker-ice"); !slices.Equal(got, want) {
		t.Errorf("order: got %v, want %v", got, want)
	}
	sdk, err := fn.Run(Processor, in)
	if err != nil {
		t.Fatal(err)
	}
	if s := itemNames(t, sdk); slices.Equal(s[:len(input)], input) {
		t.Logf("the SDK kept the order (%v): fn.AsMain would do now", s)
	} else {
		t.Logf("the SDK reorders the items: %v", s)
	}
}
