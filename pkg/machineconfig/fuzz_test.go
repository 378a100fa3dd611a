package machineconfig

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

var configLine = regexp.MustCompile(`^[a-z_]+=`)

// FuzzMachineConfig feeds arbitrary strings to every parameter. Validate
// and NewMachineConfigNode agree (what the gate accepts is generated, what it
// refuses is not). Either the input is refused with no output, or the output
// parses and validates with Ignition's parser for its spec version, is what
// Ignition's translators and validator make of it, stays
// within the MCO's size limit, decodes strictly into openshift/api's
// MachineConfig, scripts are the embedded ones, units depend on N
// alone, every other value lands on its own line of the config file, and
// the node scripts' own checks accept it.
func FuzzMachineConfig(f *testing.F) {
	f.Add("", "99-worker-ice", "worker", "quay.io/acme/ice-kmod", "ice", "ice", "debug=1", "/firmware", "", "", "")
	f.Add("ice", "", "worker", "quay.io/acme/ice-kmod:${KERNEL_FULL_VERSION}", "ice", "", "", "", "3.4.0", "90s", "Always")
	f.Add("x", "mc", "pool", "quay.io/a/b@sha256:"+strings.Repeat("a", 64), "m_1", "a\nb", "p=1\nExecStart=/bin/sh", "/fw/../x", "3.5.0", "1h", "Never")
	f.Add("n", "mc", "p", "quay.io/a/b:`id`", "m;reboot", "$(id)", "a=%n", "/f w", "9", "5m\nx=1", "Never\nExecStart=/bin/sh")
	f.Add("big", "", "worker", "quay.io/acme/ice", "ice", strings.Repeat("m", 56), strings.Repeat("p", 1000), "", "", "", "")
	f.Fuzz(func(t *testing.T, name, mcName, pool, image, module, intree, param, firmware, version, delay, policy string) {
		c := Config{
			Name: name, MachineConfigName: mcName, MachineConfigPool: pool, KernelModuleImage: image,
			KernelModuleName: module, ModuleParameters: []string{param}, FirmwarePath: firmware, IgnitionVersion: version,
			MaxKubeletDelay: delay, RebootPolicy: policy, MaxShutdownDelay: delay,
		}
		if intree != "" {
			c.InTreeModulesToRemove = []string{intree}
		}
		if len(intree)%2 == 1 { // also as an additional module, with the parameter
			c.AdditionalModules = []ModuleSpec{{Name: intree, Parameters: []string{param}}}
		}
		verrs := c.Validate(nil, nil)
		n, err := NewMachineConfigNode(c)
		if (len(verrs) == 0) != (err == nil) {
			t.Fatalf("Validate says %v, NewMachineConfigNode says %v", verrs, err)
		}
		if err != nil {
			if n != nil {
				t.Fatal("output and an error")
			}
			return
		}
		text, err := n.String()
		if err != nil {
			t.Fatal(err)
		}
		out := []byte(text)
		if raw, err := yaml.YAMLToJSON(out); err != nil || len(raw) > MaxMachineConfigSize {
			t.Fatalf("MachineConfig of %d bytes of JSON (limit %d): %v", len(raw), MaxMachineConfigSize, err)
		}
		// decode: strictly into openshift/api's MachineConfig, and through
		// Ignition's parser for its spec version.
		d := c.WithDefaults()
		dec := decode(t, out, d.IgnitionVersion)
		// The config is the one Ignition's translators make, and its
		// validator accepts it.
		cfg, err := ignitionTypes(d)
		if err != nil {
			t.Fatal(err)
		}
		checkEncodedConfig(t, cfg, d.IgnitionVersion)
		name = d.Name // the defaulted N
		if len(dec.files) != 5 || len(dec.units) != 4 {
			t.Fatalf("files %v units %v", keys(dec.files), keys(dec.units))
		}
		for path, want := range map[string][]byte{
			nodescripts.LibPath(name): []byte(nodescripts.Lib), nodescripts.LoadPath(name): []byte(nodescripts.Load), nodescripts.PullPath(name): []byte(nodescripts.Pull),
			nodescripts.FetchPath(name): []byte(nodescripts.Fetch),
		} {
			if !bytes.Equal(contents(t, dec.files[path]), want) {
				t.Fatalf("%s is not the embedded script", path)
			}
		}
		if *dec.units[nodescripts.LoadUnit(name)].Contents != loadUnit(name) || *dec.units[nodescripts.PullUnit(name)].Contents != pullUnit(name) ||
			*dec.units[nodescripts.FetchUnit(name)].Contents != fetchUnit(name) {
			t.Fatal("a unit depends on more than N")
		}
		keysSeen := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSuffix(string(contents(t, dec.files[nodescripts.ConfigPath(name)])), "\n"), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			key := configLine.FindString(line)
			if key == "" || keysSeen[key] {
				t.Fatalf("config line %q is not a single key=value", line)
			}
			keysSeen[key] = true
		}
		if err := shellParse(t, contents(t, dec.files[nodescripts.ConfigPath(name)])); err != nil {
			t.Fatalf("the node scripts refuse the generated config file: %v", err)
		}
	})
}
