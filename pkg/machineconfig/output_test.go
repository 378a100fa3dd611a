package machineconfig

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v3_2 "github.com/coreos/ignition/v2/config/v3_2"
	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	v3_4 "github.com/coreos/ignition/v2/config/v3_4"
	v3_5 "github.com/coreos/ignition/v2/config/v3_5"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	"sigs.k8s.io/yaml"

	"github.com/vincent-petithory/dataurl"

	"github.com/day1kmod/day1kmod/internal/crdcheck"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ (review the diff by eye)")

func fullConfig() Config {
	return Config{
		Name:                  "ice",
		MachineConfigName:     "99-ice-ice",
		MachineConfigPool:     "ice",
		KernelModuleImage:     "quay.io/acme/ice-kmod:${KERNEL_FULL_VERSION}",
		KernelModuleName:      "ice",
		InTreeModulesToRemove: []string{"irdma", "ice"},
		ModuleParameters:      []string{"debug=1", "enable_lldp"},
		FirmwarePath:          "/firmware/intel/ice",
		IgnitionVersion:       IgnitionV3_4,
	}
}

// mcoSizeLimit is the MCO's limit on a MachineConfig; we keep well below it
// since a pool's rendered config merges many.
const mcoSizeLimit = 1572864

func produce(t *testing.T, c Config) []byte {
	t.Helper()
	n, err := NewMachineConfigNode(c)
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.String()
	if err != nil {
		t.Fatal(err)
	}
	return []byte(out)
}

func TestGolden(t *testing.T) {
	seed, err := ProduceMachineConfig("99-worker-ice", "worker", "quay.io/acme/ice-kmod", "ice")
	if err != nil {
		t.Fatal(err)
	}
	for file, got := range map[string][]byte{
		"seed.yaml": []byte(seed),
		"full.yaml": produce(t, fullConfig()),
	} {
		path := filepath.Join("testdata", file)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./pkg/machineconfig -run TestGolden -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the output; if the change is intended, rerun with -update and review the diff\n--- got:\n%s", path, got)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := produce(t, fullConfig()), produce(t, fullConfig())
	if !bytes.Equal(a, b) {
		t.Fatal("two runs on the same input differ")
	}
}

// outputCases covers every Ignition version and every option.
func outputCases() map[string]Config {
	cases := map[string]Config{"seed": seedConfig(), "full": fullConfig()}
	for _, v := range SupportedIgnitionVersions {
		c := fullConfig()
		c.IgnitionVersion = v
		cases["full-"+v] = c
	}
	digest := seedConfig()
	digest.KernelModuleImage = "quay.io/acme/ice-kmod@sha256:" + strings.Repeat("0", 64)
	digest.InTreeModulesToRemove = []string{}
	cases["digest-no-intree"] = digest
	more := seedConfig()
	more.AdditionalModules = []ModuleSpec{{Name: "irdma", Parameters: []string{"roce_ena=1"}}, {Name: "ice_swx"}}
	cases["additional-modules"] = more
	return cases
}

// decoded is the MachineConfig as the MCO would see it.
type decoded struct {
	mc    mcfgv1.MachineConfig
	ign   ign.Config // upgraded/downgraded to 3.2 types for inspection
	files map[string]ign.File
	units map[string]ign.Unit
}

func decode(t *testing.T, out []byte, version string) decoded {
	t.Helper()
	var d decoded
	if err := yaml.UnmarshalStrict(out, &d.mc); err != nil {
		t.Fatalf("strict decoding into openshift/api MachineConfig: %v", err)
	}
	raw := d.mc.Spec.Config.Raw
	var err error
	switch version {
	case IgnitionV3_2:
		cfg, rpt, perr := v3_2.Parse(raw)
		d.ign, err = cfg, perr
		if len(rpt.Entries) > 0 {
			t.Errorf("Ignition report: %s", rpt)
		}
	case IgnitionV3_4:
		_, rpt, perr := v3_4.Parse(raw)
		err = perr
		if len(rpt.Entries) > 0 {
			t.Errorf("Ignition report: %s", rpt)
		}
	case IgnitionV3_5:
		_, rpt, perr := v3_5.Parse(raw)
		err = perr
		if len(rpt.Entries) > 0 {
			t.Errorf("Ignition report: %s", rpt)
		}
	}
	if err != nil {
		t.Fatalf("Ignition %s parser: %v", version, err)
	}
	if version != IgnitionV3_2 {
		// Same content in every version: read it through 3.2 types.
		if err := yaml.Unmarshal(raw, &d.ign); err != nil {
			t.Fatal(err)
		}
	}
	d.files, d.units = map[string]ign.File{}, map[string]ign.Unit{}
	for _, f := range d.ign.Storage.Files {
		d.files[f.Path] = f
	}
	for _, u := range d.ign.Systemd.Units {
		d.units[u.Name] = u
	}
	return d
}

// contents decodes a file's contents as Ignition and the MCD do.
func contents(t *testing.T, f ign.File) []byte {
	t.Helper()
	u, err := dataurl.DecodeString(*f.Contents.Source)
	if err != nil {
		t.Fatalf("%s: %v", f.Path, err)
	}
	switch c := f.Contents.Compression; {
	case c == nil || *c == "":
		return u.Data
	case *c == "gzip":
		r, err := gzip.NewReader(bytes.NewReader(u.Data))
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		return b
	default:
		t.Fatalf("%s: compression %q", f.Path, *c)
		return nil
	}
}

func TestOutputIsAcceptedByRealParsers(t *testing.T) {
	crd, err := crdcheck.Load(crdcheck.MachineConfigCRD, "v1")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range outputCases() {
		t.Run(name, func(t *testing.T) {
			out := produce(t, c)
			d := c.WithDefaults()
			dec := decode(t, out, d.IgnitionVersion)
			if v := dec.ign.Ignition.Version; v != d.IgnitionVersion {
				t.Errorf("Ignition version %q, want %s", v, d.IgnitionVersion)
			}
			// What the MCO of OpenShift 4.19+ does with any MachineConfig.
			if _, rpt, err := v3_5.ParseCompatibleVersion(dec.mc.Spec.Config.Raw); err != nil || len(rpt.Entries) > 0 {
				t.Errorf("v3_5.ParseCompatibleVersion: %v %s", err, rpt)
			}
			if len(out) > mcoSizeLimit/4 {
				t.Errorf("MachineConfig is %d bytes: the MCO refuses more than %d", len(out), mcoSizeLimit)
			}
			var obj map[string]any
			if err := yaml.Unmarshal(out, &obj); err != nil {
				t.Fatal(err)
			}
			for _, p := range crd.Validate(obj) {
				t.Errorf("MachineConfig CRD schema: %s", p)
			}
			if dec.mc.Name != d.MachineConfigName || dec.mc.Labels[RoleLabel] != d.MachineConfigPool {
				t.Errorf("name %q labels %v", dec.mc.Name, dec.mc.Labels)
			}
			for _, noise := range []string{"{}", "null", "status", "creationTimestamp", "extensions", `""`} {
				if bytes.Contains(out, []byte(noise)) {
					t.Errorf("output holds empty noise %q", noise)
				}
			}
		})
	}
}

func TestNodeFilesAndUnits(t *testing.T) {
	c := fullConfig().WithDefaults()
	dec := decode(t, produce(t, c), c.IgnitionVersion)
	name := c.Name
	wantFiles := map[string]struct {
		mode int
		body []byte
	}{
		nodescripts.LibPath(name):    {0o755, []byte(nodescripts.Lib)},
		nodescripts.LoadPath(name):   {0o755, []byte(nodescripts.Load)},
		nodescripts.PullPath(name):   {0o755, []byte(nodescripts.Pull)},
		nodescripts.FetchPath(name):  {0o755, []byte(nodescripts.Fetch)},
		nodescripts.ConfigPath(name): {0o644, nil},
	}
	if len(dec.files) != len(wantFiles) {
		t.Errorf("files %v", keys(dec.files))
	}
	for p, w := range wantFiles {
		f, ok := dec.files[p]
		if !ok {
			t.Errorf("no file %s", p)
			continue
		}
		if *f.Mode != w.mode {
			t.Errorf("%s mode %o, want %o", p, *f.Mode, w.mode)
		}
		if w.body != nil && !bytes.Equal(contents(t, f), w.body) {
			t.Errorf("%s is not the embedded script", p)
		}
	}
	conf := string(contents(t, dec.files[nodescripts.ConfigPath(name)]))
	for _, v := range []string{c.KernelModuleImage, "debug=1 enable_lldp", "irdma ice", c.FirmwarePath,
		"\nmax_kubelet_delay=300\n", "\nreboot_policy=BeforeKubelet\n", "\nmax_shutdown_delay=300\n"} {
		if !strings.Contains(conf, v) {
			t.Errorf("config file lacks %q:\n%s", v, conf)
		}
	}
	load, pull, fetch := dec.units[nodescripts.LoadUnit(name)], dec.units[nodescripts.PullUnit(name)], dec.units[nodescripts.FetchUnit(name)]
	prefetch := dec.units[nodescripts.PrefetchUnit(name)]
	if len(dec.units) != 4 || load.Contents == nil || pull.Contents == nil || fetch.Contents == nil || prefetch.Contents == nil {
		t.Fatalf("units %v", keys(dec.units))
	}
	// The load unit, the gate and the prefetch unit (whose stop does the
	// work) start at boot; the gate starts the fetch.
	if load.Enabled == nil || !*load.Enabled || pull.Enabled == nil || !*pull.Enabled || fetch.Enabled != nil ||
		prefetch.Enabled == nil || !*prefetch.Enabled {
		t.Errorf("enabled: load %v, pull %v, fetch %v, prefetch %v; want load, pull and prefetch enabled, fetch left alone",
			load.Enabled, pull.Enabled, fetch.Enabled, prefetch.Enabled)
	}
	for u, want := range map[string]string{
		*load.Contents:     loadUnit(name),
		*pull.Contents:     pullUnit(name),
		*fetch.Contents:    fetchUnit(name),
		*prefetch.Contents: prefetchUnit(name),
	} {
		if u != want {
			t.Errorf("unit in the config differs from the generator's:\n%s", u)
		}
	}
	for _, u := range dec.units {
		if strings.Contains(*u.Contents, "crio-wipe") || strings.Contains(*u.Contents, "podman") {
			t.Errorf("%s mentions a container runtime", u.Name)
		}
	}
	if bytes.Contains([]byte(nodescripts.Load), []byte("podman")) {
		t.Errorf("the load script mentions podman: no container runtime before the network")
	}
}

// Two modules on one pool: Ignition's own merge of their configs keeps every
// file and unit of both, and none is claimed by both.
func TestTwoModulesMerge(t *testing.T) {
	a, b := seedConfig(), seedConfig()
	b.MachineConfigName, b.KernelModuleName, b.KernelModuleImage = "99-worker-i40e", "i40e", "quay.io/acme/i40e-kmod"
	da, db := decode(t, produce(t, a), IgnitionV3_2), decode(t, produce(t, b), IgnitionV3_2)
	for p := range da.files {
		if _, clash := db.files[p]; clash {
			t.Errorf("both write %s", p)
		}
	}
	for u := range da.units {
		if _, clash := db.units[u]; clash {
			t.Errorf("both define %s", u)
		}
	}
	merged := v3_2.Merge(da.ign, db.ign)
	if got, want := len(merged.Storage.Files), len(da.files)+len(db.files); got != want {
		t.Errorf("merged config has %d files, want %d", got, want)
	}
	if got, want := len(merged.Systemd.Units), len(da.units)+len(db.units); got != want {
		t.Errorf("merged config has %d units, want %d", got, want)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
