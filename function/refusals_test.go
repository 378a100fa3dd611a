package function

import (
	"slices"
	"sort"
	"testing"

	"github.com/kptdev/krm-functions-sdk/go/fn"
)

func dkm(name, pool, module string, extra string) string {
	return `- apiVersion: day1kmod.dev/v1alpha1
  kind: Day1KernelModule
  metadata: {name: ` + name + `, annotations: {config.kubernetes.io/local-config: "true"}}
  spec:
    machineConfigPool: ` + pool + `
    kernelModuleImage: quay.io/acme/` + name + `
    kernelModuleName: ` + module + `
` + extra
}

// The function's own refusal classes (collisions, duplicates), each at its
// field path: compared by the paths of the error results, not by message.
func TestRefusedAtTheFieldPath(t *testing.T) {
	const head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
	for _, tc := range []struct {
		name, in string
		paths    []string // of the error results, sorted
	}{
		{"same module same pool", head + dkm("ice-a", "worker", "ice", "") + dkm("ice-b", "worker", "ice", ""),
			[]string{"spec.kernelModuleName"}},
		{"same module by - and _", head + dkm("a", "worker", "mlx5_core", "") + dkm("b", "worker", "mlx5-core", ""),
			[]string{"spec.kernelModuleName"}},
		{"additional module loaded by another", head + dkm("a", "worker", "ice", "    additionalModules: [{name: irdma}]\n") + dkm("b", "worker", "irdma", ""),
			[]string{"spec.kernelModuleName"}},
		{"generated pool takes worker", head + dkm("a", "worker", "ice", "") +
			dkm("b", "fastnet", "ice", "    machineConfigPoolSpec: {nodeSelector: {matchLabels: {node-role.kubernetes.io/fastnet: \"\"}}}\n"),
			[]string{"spec.kernelModuleName"}},
		{"another's module removed as in-tree", head + dkm("a", "worker", "ice", "") + dkm("b", "worker", "irdma", "    inTreeModulesToRemove: [irdma, ice]\n"),
			[]string{"spec.inTreeModulesToRemove[1]"}},
		{"same module, separate pools", head + dkm("a", "worker", "ice", "") + dkm("b", "master", "ice", ""), nil},
		{"same module, pool of unknown nodes", head + dkm("a", "worker", "ice", "") + dkm("b", "infra", "ice", ""), nil},
		{"duplicate key in spec", head + dkm("a", "worker", "ice", "    kernelModuleName: ice2\n"), []string{"spec.kernelModuleName"}},
		{"duplicate metadata.name", head + `- apiVersion: day1kmod.dev/v1alpha1
  kind: Day1KernelModule
  metadata:
    name: a
    name: b
  spec: {machineConfigPool: worker, kernelModuleImage: quay.io/a/b, kernelModuleName: ice}
`, []string{"metadata.name"}},
		{"duplicate key in a list element", head + dkm("a", "worker", "ice", "    additionalModules:\n    - name: irdma\n      name: x\n"),
			[]string{"spec.additionalModules[0].name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, code := run(t, []byte(tc.in))
			rl, err := fn.ParseResourceList(out)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, r := range rl.Results {
				if r.Severity == fn.Error && r.Field != nil {
					paths = append(paths, r.Field.Path)
				}
			}
			sort.Strings(paths)
			if !slices.Equal(paths, tc.paths) || (code != 0) != (len(tc.paths) > 0) {
				t.Errorf("exit %d, error paths %v, want %v", code, paths, tc.paths)
			}
		})
	}
}
