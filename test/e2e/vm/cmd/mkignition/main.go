// Command mkignition is the VM end-to-end test's use of the product: it
// generates one MachineConfig per Day 1 kernel module with pkg/mcproducer,
// writes each as the YAML a user would apply, reads the Ignition config back
// out of that YAML, and merges the configs of one pool into the single
// Ignition config a node of that pool boots with (as the machine-config
// operator does), refusing any file or unit two of them would both write.
//
//	mkignition -in modules.json -out DIR
//
// modules.json is a list of mcproducer.Config objects (their JSON names) with
// "name" for N. DIR receives <machineConfigName>.yaml and config.ign.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/ignition/v2/config/v3_5/types"
	"github.com/day1kmod/day1kmod/pkg/mcproducer"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	"sigs.k8s.io/yaml"
)

type module struct {
	Name string `json:"name"`
	mcproducer.Config
}

func main() {
	in := flag.String("in", "", "JSON list of Day 1 kernel modules")
	out := flag.String("out", "", "output directory")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("mkignition: ")
	if *in == "" || *out == "" {
		log.Fatal("usage: mkignition -in modules.json -out DIR")
	}
	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var modules []module
	if err := json.Unmarshal(raw, &modules); err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}

	var merged types.Config
	owner := map[string]string{} // file path or unit name -> MachineConfig that writes it
	for i, m := range modules {
		cfg := m.Config
		cfg.Name = m.Name
		mc, err := mcproducer.NewMachineConfig(cfg)
		if err != nil {
			log.Fatalf("module %d (%s): %v", i, m.Name, err)
		}
		y, err := mcproducer.MarshalYAML(mc)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, mc.Name+".yaml"), y, 0o644); err != nil {
			log.Fatal(err)
		}
		ign, err := ignitionOf(y)
		if err != nil {
			log.Fatalf("%s: %v", mc.Name, err)
		}
		for _, key := range keys(ign) {
			if prev, ok := owner[key]; ok {
				log.Fatalf("%s and %s both write %s: merging them clobbers it", prev, mc.Name, key)
			}
			owner[key] = mc.Name
		}
		if i == 0 {
			merged = ign
		} else {
			merged = v3_5.Merge(merged, ign)
		}
	}
	js, err := json.MarshalIndent(merged, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "config.ign"), js, 0o644); err != nil {
		log.Fatal(err)
	}
}

// ignitionOf reads a MachineConfig's YAML, as the cluster would, and parses
// its Ignition config with Ignition's own parser (upgraded to spec 3.5).
func ignitionOf(y []byte) (types.Config, error) {
	var mc mcfgv1.MachineConfig
	if err := yaml.UnmarshalStrict(y, &mc); err != nil {
		return types.Config{}, err
	}
	cfg, rpt, err := v3_5.ParseCompatibleVersion(mc.Spec.Config.Raw)
	if err != nil {
		return types.Config{}, fmt.Errorf("ignition: %v: %s", err, rpt)
	}
	if len(rpt.Entries) > 0 {
		return types.Config{}, fmt.Errorf("ignition report: %s", rpt)
	}
	return cfg, nil
}

// keys lists what a config writes on the node: file, directory and link
// paths, and unit names.
func keys(c types.Config) []string {
	var k []string
	for _, f := range c.Storage.Files {
		k = append(k, "path "+f.Path)
	}
	for _, d := range c.Storage.Directories {
		k = append(k, "path "+d.Path)
	}
	for _, l := range c.Storage.Links {
		k = append(k, "path "+l.Path)
	}
	for _, u := range c.Systemd.Units {
		k = append(k, "unit "+u.Name)
	}
	return k
}
