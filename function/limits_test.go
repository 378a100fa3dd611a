package function

import (
	"fmt"
	"strings"
	"testing"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
)

// Valid values that together make a MachineConfig over the MCO's limit are
// refused at the field that makes it big, with the numbers; no output.
func TestTooBigIsRefusedAtTheField(t *testing.T) {
	var params []string
	for i := range 2000 {
		params = append(params, fmt.Sprintf("p%d=%s", i, strings.Repeat("x", 1000)))
	}
	in := `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items: []
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata: {name: day1kmod}
  data:
    kernelModuleName: ice
    kernelModuleImage: quay.io/acme/ice-kmod
    machineConfigPool: worker
    moduleParameters: "` + strings.Join(params, " ") + `"
`
	out, stderr, code := run(t, []byte(in))
	if code != 1 || strings.Contains(string(out), "kind: MachineConfig\n") {
		t.Fatalf("exit %d; want 1 and no MachineConfig", code)
	}
	for _, want := range []string{"data.moduleParameters:", "2000 entries", "over the MCO's limit of 1572864 bytes", "the MCO would refuse this"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%.600s", want, stderr)
		}
	}
}

// Empty or white-space-only input is an error, not an empty ResourceList.
func TestEmptyInputIsAnError(t *testing.T) {
	for _, in := range []string{"", " ", "\n\n", "\t\n  \n"} {
		out, stderr, code := run(t, []byte(in))
		if code == 0 || len(out) != 0 || !strings.Contains(stderr, "the input is empty") {
			t.Errorf("input %q: exit %d, stdout %q, stderr %q", in, code, out, stderr)
		}
	}
}

// --version prints the version every MachineConfig is annotated with.
func TestVersion(t *testing.T) {
	var o, e strings.Builder
	if code := Main([]string{"--version"}, strings.NewReader(""), &o, &e); code != 0 || o.String() != "day1kmod "+machineconfig.Version+"\n" {
		t.Errorf("--version: exit %d, %q %q", code, o.String(), e.String())
	}
	out, _, code := run(t, []byte(`apiVersion: config.kubernetes.io/v1
kind: ResourceList
items: []
functionConfig:
  apiVersion: day1kmod.dev/v1alpha1
  kind: Day1KernelModule
  metadata: {name: ice}
  spec: {machineConfigPool: worker, kernelModuleImage: quay.io/acme/ice, kernelModuleName: ice}
`))
	if code != 0 || !strings.Contains(string(out), machineconfig.VersionAnnotation+": "+machineconfig.Version+"\n") {
		t.Errorf("exit %d, no version annotation:\n%s", code, out)
	}
}
