package function

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/day1kmod/day1kmod/internal/mddoc"
)

// readmeBlock returns the fenced block that follows the marker
// "<!-- readme-test: NAME -->" in README.md or a page of docs/.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	body, _, err := mddoc.Block("..", name)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// asFunctionConfig wraps an object's YAML in a ResourceList.
func asFunctionConfig(obj string) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n")
	for _, l := range strings.Split(strings.TrimSuffix(obj, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return []byte(b.String())
}

// The reference's error example is what the function prints.
func TestREADMEErrorExample(t *testing.T) {
	out, stderr, code := run(t, asFunctionConfig(readmeBlock(t, "input")))
	if code != 1 || strings.Contains(string(out), "kind: MachineConfig\n") {
		t.Errorf("exit %d; want 1 and no MachineConfig", code)
	}
	if want := readmeBlock(t, "stderr"); stderr != want {
		t.Errorf("the docs say the function prints\n%s\nit prints\n%s", want, stderr)
	}
}

// The reference's BootModuleConfig renders the MachineConfig of the
// Day1KernelModule its fields map onto.
func TestREADMEBootModuleConfig(t *testing.T) {
	out, stderr, code := run(t, asFunctionConfig(readmeBlock(t, "bootmoduleconfig")))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	d1, _, code := run(t, asFunctionConfig(`apiVersion: day1kmod.dev/v1alpha1
kind: Day1KernelModule
metadata: {name: ice}
spec:
  machineConfigName: 99-worker-ice
  machineConfigPool: worker
  kernelModuleImage: quay.io/acme/ice-kmod
  kernelModuleName: ice
  inTreeModulesToRemove: [ice]
  firmwarePath: /firmware
`))
	if code != 0 {
		t.Fatal("the equivalent Day1KernelModule fails")
	}
	spec := func(rl []byte) string {
		l, err := fn.ParseResourceList(rl)
		if err != nil || len(l.Items) != 1 {
			t.Fatalf("want one item: %v", err)
		}
		s, _, _ := l.Items[0].NestedSubObject("spec")
		return s.String()
	}
	if a, b := spec(out), spec(d1); a != b {
		t.Errorf("BootModuleConfig and Day1KernelModule give different MachineConfigs:\n%s\n---\n%s", a, b)
	}
}

// The reference's Day1KernelModule, every field set, renders.
func TestREADMEDay1KernelModule(t *testing.T) {
	out, stderr, code := run(t, asFunctionConfig(readmeBlock(t, "day1kernelmodule")))
	if code != 0 || !strings.Contains(string(out), "kind: MachineConfigPool\n") || !strings.Contains(string(out), "kind: MachineConfig\n") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// The README's kustomize example is the Day1KernelModule of
// examples/kustomize-exec (which the examples' tests run with kustomize),
// and renders.
func TestREADMEKustomizeExample(t *testing.T) {
	block := readmeBlock(t, "kustomize")
	file, err := os.ReadFile("../examples/kustomize-exec/day1kmod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var inREADME, inExample any
	if err := sigsyaml.Unmarshal([]byte(block), &inREADME); err != nil {
		t.Fatal(err)
	}
	if err := sigsyaml.Unmarshal(file, &inExample); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(inREADME, inExample) {
		t.Errorf("the README's kustomize example\n%v\nis not examples/kustomize-exec/day1kmod.yaml\n%v", inREADME, inExample)
	}
	if out, stderr, code := run(t, asFunctionConfig(block)); code != 0 || !strings.Contains(string(out), "kind: MachineConfig\n") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
