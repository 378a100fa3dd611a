package function

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
)

func TestReadConfigs(t *testing.T) {
	f, err := os.Open("../examples/kpt-package/modules/mlx5.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadConfigs(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []machineconfig.Config{{
		Name: "mlx5", MachineConfigName: "99-fastnet-mlx5", MachineConfigPool: "fastnet",
		KernelModuleImage: "quay.io/acme/mlx5-kmod:${KERNEL_FULL_VERSION}", KernelModuleName: "mlx5_core",
		InTreeModulesToRemove: []string{"mlx5_ib", "mlx5_core"}, FirmwarePath: "/firmware", IgnitionVersion: machineconfig.DefaultIgnitionSpec,
		MaxKubeletDelay: machineconfig.DefaultMaxKubeletDelay, RebootPolicy: machineconfig.RebootBeforeKubelet,
		MaxShutdownDelay: machineconfig.DefaultMaxShutdownDelay,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadConfigs = %+v\nwant %+v", got, want)
	}
}

func TestReadConfigsRefusesWhatTheFunctionRefuses(t *testing.T) {
	const ok = `apiVersion: day1kmod.dev/v1alpha1
kind: Day1KernelModule
metadata: {name: ice}
spec: {machineConfigPool: worker, kernelModuleImage: quay.io/acme/ice, kernelModuleName: ice}
`
	for _, c := range []struct{ name, in, want string }{
		{"bad image", strings.Replace(ok, "quay.io/acme/ice", "ice:Latest!", 1), `spec.kernelModuleImage: Invalid value: "ice:Latest!"`},
		{"unknown field", strings.Replace(ok, "kernelModuleName:", "kernelModule:", 1), "spec.kernelModule"},
		{"two with one name", ok + "---\n" + ok, `metadata.name: Duplicate value: "ice"`},
		{"none", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n", "no day1kmod.dev/v1alpha1 Day1KernelModule"},
		{"not YAML", "{", "reading YAML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadConfigs(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) || got != nil || errors.Is(err, ErrNoDay1KernelModule) != (c.name == "none") {
				t.Errorf("ReadConfigs = %v, %v; want no config and an error with %q", got, err, c.want)
			}
		})
	}
	got, err := ReadConfigs(strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n" + ok))
	if err != nil || len(got) != 1 || got[0].Name != "ice" || !reflect.DeepEqual(got[0].InTreeModulesToRemove, []string{"ice"}) {
		t.Errorf("ReadConfigs with another kind beside = %+v, %v", got, err)
	}
}

// day1kmod verify -f reads a KMM BootModuleConfig as the function does, and
// the further modules a Day1KernelModule names.
func TestReadConfigsBootModuleConfigAndAdditionalModules(t *testing.T) {
	in := `apiVersion: kmm.sigs.x-k8s.io/v1beta1
kind: BootModuleConfig
metadata: {name: ice}
spec:
  machineConfigName: 99-worker-ice
  machineConfigPoolName: worker
  kernelModuleImage: quay.io/acme/ice-kmod
  kernelModuleName: ice
---
apiVersion: day1kmod.dev/v1alpha1
kind: Day1KernelModule
metadata: {name: mlx5}
spec:
  machineConfigPool: worker
  kernelModuleImage: quay.io/acme/mlx5-kmod
  kernelModuleName: mlx5_core
  additionalModules: [{name: mlx5_ib}]
`
	got, err := ReadConfigs(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "ice" || got[0].MachineConfigPool != "worker" || len(got[0].InTreeModulesToRemove) != 0 ||
		got[1].Name != "mlx5" || len(got[1].AdditionalModules) != 1 || got[1].AdditionalModules[0].Name != "mlx5_ib" {
		t.Errorf("ReadConfigs = %+v", got)
	}
}
