package machineconfig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// shellParse runs lib.sh's parse_config (with its check_config) on the
// config file conf, as the node scripts do first thing. nil: accepted.
func shellParse(t testing.TB, conf []byte) error {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to run the node scripts' checks")
	}
	dir := t.TempDir()
	lib, file := filepath.Join(dir, "lib.sh"), filepath.Join(dir, "n.conf")
	if err := os.WriteFile(lib, []byte(nodescripts.Lib), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-c", `. "$1" && parse_config "$2"`, "check", lib, file)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// configFile writes a config file by hand, so that values Render refuses
// can be given to the shell too.
func configFile(image, module string, inTree, params []string, firmware string) []byte {
	return []byte(strings.Join([]string{
		"format=" + nodescripts.ConfigFormat, "name=ice", "image=" + image, "module=" + module,
		"in_tree_modules=" + strings.Join(inTree, " "), "module_parameters=" + strings.Join(params, " "),
		"firmware_path=" + firmware, ""}, "\n"))
}

// One table of values for the Go gate (Config.Validate) and the node's own
// checks (check_config): what Validate accepts the shell accepts; what both
// must refuse, both refuse. goOnly values are refused by Validate only (it
// is the stricter of the two, the one that tells the user).
func TestGoAndShellChecksAgree(t *testing.T) {
	const (
		good   = "good"
		bad    = "bad"
		goOnly = "goOnly"
	)
	type value struct {
		field, v, want string
	}
	table := []value{
		{"module", "ice", good}, {"module", "mlx5_core", good}, {"module", "_x", goOnly}, {"module", "a-b", good},
		{"module", "-ice", bad}, {"module", "--force", bad}, {"module", "ice ko", bad}, {"module", "ice;x", bad}, {"module", "ice.ko", bad},
		{"module", strings.Repeat("m", 57), goOnly},
		{"intree", "irdma", good}, {"intree", "snd-hda_intel", good},
		{"intree", "-r", bad}, {"intree", "-", bad}, {"intree", "$(id)", bad},
		{"param", "debug=1", good}, {"param", "enable", good}, {"param", "mac=00:11:22:33:44:55", good}, {"param", "arr=1,2,3", good},
		{"param", "_x=/a/b+c", good}, {"param", "b=", good},
		{"param", "-v", bad}, {"param", "--force", bad}, {"param", "-x=1", bad}, {"param", "a=`id`", bad}, {"param", "a=$HOME", bad},
		{"param", "a=\"x\"", bad}, {"param", "=1", bad}, {"param", "a=%s", bad},
		{"param", "1x=2", goOnly},
		{"image", "quay.io/acme/ice:${KERNEL_FULL_VERSION}", good}, {"image", "quay.io/acme/ice", good},
		{"image", "[fe80::1]:5000/acme/ice:v1", good}, {"image", "localhost:5000/a@sha256:" + strings.Repeat("0", 64), good},
		{"image", "quay.io/acme/ice:v1-${KERNEL_FULL_VERSION}", good},
		{"image", "-quay.io/acme/ice", bad}, {"image", "quay.io/acme/ice:$(id)", bad}, {"image", "quay.io/a b", bad},
		{"image", "quay.io/acme/ice:${HOME}", bad},
		{"image", "quay.io/acme/ice/", goOnly}, {"image", "docker://quay.io/acme/ice", goOnly}, {"image", "quay.io:0/a/b", goOnly},
		{"firmware", "/firmware/intel", good}, {"firmware", "/lib/firmware/ice.ddp/v1.2", good},
		{"firmware", "firmware", bad}, {"firmware", "/fw/../etc", bad}, {"firmware", "/f w", bad},
		{"firmware", "/fw/", goOnly},
	}
	for _, tc := range table {
		t.Run(tc.field+"="+tc.v, func(t *testing.T) {
			c := seedConfig()
			image, module, inTree, params, firmware := "quay.io/acme/ice:${KERNEL_FULL_VERSION}", "ice", []string{"ice"}, []string{"debug=1"}, ""
			switch tc.field {
			case "module":
				c.KernelModuleName, module = tc.v, tc.v
				c.InTreeModulesToRemove = []string{}
			case "intree":
				c.InTreeModulesToRemove, inTree = []string{tc.v}, []string{tc.v}
			case "param":
				c.ModuleParameters, params = []string{tc.v}, []string{tc.v}
			case "image":
				c.KernelModuleImage = tc.v
				if img, err := ParseImage(tc.v); err == nil {
					image = img.Reference
				} else {
					image = tc.v
				}
			case "firmware":
				c.FirmwarePath, firmware = tc.v, tc.v
			}
			goErr := c.Validate(nil, nil).ToAggregate()
			shErr := shellParse(t, configFile(image, module, inTree, params, firmware))
			switch tc.want {
			case good:
				if goErr != nil || shErr != nil {
					t.Errorf("want accepted by both; Go: %v; shell: %v", goErr, shErr)
				}
			case bad:
				if goErr == nil || shErr == nil {
					t.Errorf("want refused by both; Go: %v; shell: %v", goErr, shErr)
				}
			case goOnly:
				if goErr == nil {
					t.Errorf("want refused by Validate")
				}
			}
		})
	}
}

// What Validate accepts NewMachineConfig generates, and the node scripts'
// own checks accept the config file it contains.
func checkGatesAgree(t *testing.T, c Config) {
	t.Helper()
	verrs := c.Validate(nil, nil)
	n, err := NewMachineConfigNode(c)
	switch {
	case len(verrs) == 0 && err != nil:
		t.Fatalf("Validate accepted %+v but NewMachineConfigNode failed: %v", c, err)
	case len(verrs) > 0 && err == nil:
		t.Fatalf("Validate refused %+v (%v) but NewMachineConfigNode generated it", c, verrs)
	case err != nil:
		return
	}
	text, err := n.String()
	if err != nil {
		t.Fatal(err)
	}
	out := []byte(text)
	d := c.WithDefaults()
	dec := decode(t, out, d.IgnitionVersion)
	if err := shellParse(t, contents(t, dec.files[nodescripts.ConfigPath(d.Name)])); err != nil {
		t.Fatalf("generated, but the node scripts refuse the config file of %+v: %v", c, err)
	}
}

func TestAcceptedIsGeneratedAndNodeAccepts(t *testing.T) {
	cases := outputCases()
	for _, c := range cases {
		checkGatesAgree(t, c)
	}
	for _, tc := range badInput {
		c := seedConfig()
		tc.change(&c)
		checkGatesAgree(t, c)
	}
}
