package function

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/day1kmod/day1kmod/internal/crdcheck"
	"sigs.k8s.io/kustomize/kyaml/kio"
	sigsyaml "sigs.k8s.io/yaml"
)

// The MachineConfigPool CRD as a self-managed cluster serves it.

// Every item the function generates from the golden inputs is accepted as is by
// the CRD schemas (structure, OpenAPI validation, CEL rules).
func TestGeneratedItemsMatchCRDs(t *testing.T) {
	mc, err := crdcheck.Load(crdcheck.MachineConfigCRD, "v1")
	if err != nil {
		t.Fatal(err)
	}
	mcp, err := crdcheck.Load(crdcheck.MachineConfigPoolCRD, "v1")
	if err != nil {
		t.Fatal(err)
	}
	validators := map[string]*crdcheck.Validator{mcKind: mc, mcpKind: mcp}
	cases, _ := filepath.Glob(filepath.Join("testdata", "*", "input.yaml"))
	seen := map[string]int{}
	for _, c := range cases {
		in, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		b, _, _ := run(t, in)
		nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(b), OmitReaderAnnotations: true}).Read()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			v := validators[n.GetKind()]
			if v == nil || n.GetAnnotations()[SourceAnnotation] == "" {
				continue
			}
			y, err := n.String()
			if err != nil {
				t.Fatal(err)
			}
			var obj map[string]any
			if err := sigsyaml.Unmarshal([]byte(y), &obj); err != nil {
				t.Fatal(err)
			}
			// The orchestrator's annotations are not part of what is applied.
			if md, ok := obj["metadata"].(map[string]any); ok {
				if an, ok := md["annotations"].(map[string]any); ok {
					for k := range an {
						if k != SourceAnnotation {
							delete(an, k)
						}
					}
				}
			}
			seen[n.GetKind()]++
			for _, p := range v.Validate(obj) {
				t.Errorf("%s: %s %s: %s", c, n.GetKind(), n.GetName(), p)
			}
		}
	}
	if seen[mcKind] == 0 || seen[mcpKind] == 0 {
		t.Fatalf("checked %v: the golden cases must generate both kinds", seen)
	}
}
