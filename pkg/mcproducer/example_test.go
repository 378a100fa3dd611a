package mcproducer_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/day1kmod/day1kmod/pkg/mcproducer"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The seed call: the module is both the in-tree one to unload and the
// out-of-tree one to load; the image's tag follows the node's kernel.
func ExampleProduceMachineConfig() {
	yaml, err := mcproducer.ProduceMachineConfig("99-worker-ice", "worker", "quay.io/acme/ice-kmod", "ice")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Print the head of the YAML, up to the Ignition config.
	head, _, _ := strings.Cut(yaml, "spec:")
	fmt.Print(head)
	// Output:
	// apiVersion: machineconfiguration.openshift.io/v1
	// kind: MachineConfig
	// metadata:
	//   annotations:
	//     day1kmod.dev/generator-version: dev
	//   labels:
	//     machineconfiguration.openshift.io/role: worker
	//   name: 99-worker-ice
}

// The typed API takes every option and returns the openshift/api object.
func ExampleNewMachineConfig() {
	mc, err := mcproducer.NewMachineConfig(mcproducer.Config{
		Name:              "ice",
		MachineConfigPool: "worker",
		KernelModuleImage: "quay.io/acme/ice-kmod:${KERNEL_FULL_VERSION}",
		KernelModuleName:  "ice",
		ModuleParameters:  []string{"debug=1"},
		AdditionalModules: []mcproducer.ModuleSpec{{Name: "irdma", Parameters: []string{"roce_ena=1"}}},
		FirmwarePath:      "/firmware",
		IgnitionVersion:   mcproducer.IgnitionV3_4,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mc.Name, mc.Labels[mcproducer.RoleLabel])
	// The files the Ignition config installs on each node of the pool.
	var ignition struct {
		Storage struct{ Files []struct{ Path string } }
	}
	if err := json.Unmarshal(mc.Spec.Config.Raw, &ignition); err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range ignition.Storage.Files {
		fmt.Println(f.Path)
	}
	// Output:
	// 99-worker-ice worker
	// /etc/day1kmod/ice.conf
	// /usr/local/bin/day1kmod-ice-lib.sh
	// /usr/local/bin/day1kmod-ice-load.sh
	// /usr/local/bin/day1kmod-ice-pull.sh
	// /usr/local/bin/day1kmod-ice-fetch.sh
}

// Validate reports every problem at once, each with its field path.
func ExampleConfig_Validate() {
	c := mcproducer.Config{
		MachineConfigPool: "worker",
		KernelModuleImage: "docker://quay.io/acme/ice-kmod",
		KernelModuleName:  "ice",
		ModuleParameters:  []string{"rx-ring=1024", "rx_ring=2048"},
	}
	for _, e := range c.Validate(field.NewPath("spec"), nil) {
		fmt.Println(e.Field, e.Type)
	}
	// Output:
	// spec.kernelModuleImage Invalid value
	// spec.moduleParameters[1] Duplicate value
}
