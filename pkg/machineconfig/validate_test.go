package machineconfig

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func seedConfig() Config {
	return Config{
		MachineConfigName: "99-worker-ice",
		MachineConfigPool: "worker",
		KernelModuleImage: "quay.io/acme/ice-kmod",
		KernelModuleName:  "ice",
	}
}

// badInput lists inputs a user can type that must be refused, each with the
// field path the error names and the error type.
var badInput = []struct {
	name   string
	change func(*Config)
	path   string
	typ    field.ErrorType
}{
	{"empty module name", func(c *Config) { c.KernelModuleName = "" }, "kernelModuleName", field.ErrorTypeRequired},
	{"empty pool", func(c *Config) { c.MachineConfigPool = "" }, "machineConfigPool", field.ErrorTypeRequired},
	{"empty image", func(c *Config) { c.KernelModuleImage = "" }, "kernelModuleImage", field.ErrorTypeRequired},
	{"machine config name with capitals", func(c *Config) { c.MachineConfigName = "99-Worker-ICE" }, "machineConfigName", field.ErrorTypeInvalid},
	{"machine config name with underscore", func(c *Config) { c.MachineConfigName = "99_worker_ice" }, "machineConfigName", field.ErrorTypeInvalid},
	{"machine config name too long", func(c *Config) { c.MachineConfigName = strings.Repeat("a", 254) }, "machineConfigName", field.ErrorTypeInvalid},
	{"machine config name with newline", func(c *Config) { c.MachineConfigName = "99-worker\nice" }, "machineConfigName", field.ErrorTypeInvalid},
	{"pool with dot", func(c *Config) { c.MachineConfigPool = "worker.ice" }, "machineConfigPool", field.ErrorTypeInvalid},
	{"pool with capitals", func(c *Config) { c.MachineConfigPool = "Worker" }, "machineConfigPool", field.ErrorTypeInvalid},
	{"pool too long", func(c *Config) { c.MachineConfigPool = strings.Repeat("w", 64) }, "machineConfigPool", field.ErrorTypeInvalid},
	{"pool with space", func(c *Config) { c.MachineConfigPool = "work er" }, "machineConfigPool", field.ErrorTypeInvalid},
	{"module with dot", func(c *Config) { c.KernelModuleName = "ice.ko" }, "kernelModuleName", field.ErrorTypeInvalid},
	{"module starting with dash", func(c *Config) { c.KernelModuleName = "-ice" }, "kernelModuleName", field.ErrorTypeInvalid},
	{"module 57 characters", func(c *Config) { c.KernelModuleName = strings.Repeat("m", 57) }, "kernelModuleName", field.ErrorTypeInvalid},
	{"module with semicolon", func(c *Config) { c.KernelModuleName = "ice;reboot" }, "kernelModuleName", field.ErrorTypeInvalid},
	{"module with space", func(c *Config) { c.KernelModuleName = "ice e" }, "kernelModuleName", field.ErrorTypeInvalid},
	{"module with newline", func(c *Config) { c.KernelModuleName = "ice\nExecStart=/bin/sh" }, "kernelModuleName", field.ErrorTypeInvalid},
	{"module with percent", func(c *Config) { c.KernelModuleName = "ice%n" }, "kernelModuleName", field.ErrorTypeInvalid},
	{"image without registry", func(c *Config) { c.KernelModuleImage = "acme/ice-kmod" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with capitals", func(c *Config) { c.KernelModuleImage = "quay.io/Acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with space", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice kmod" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with backtick", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice:`id`" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with command substitution", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice:$(id)" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with other variable", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice:${HOME}" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with placeholder in repository", func(c *Config) { c.KernelModuleImage = "quay.io/acme/${KERNEL_FULL_VERSION}:v1" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with placeholder and digest", func(c *Config) {
		c.KernelModuleImage = "quay.io/acme/ice:${KERNEL_FULL_VERSION}@sha256:" + strings.Repeat("a", 64)
	}, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with short digest", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice@sha256:abc" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with newline", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice\n" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image tag too long", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice:" + strings.Repeat("t", 129) }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with quote", func(c *Config) { c.KernelModuleImage = `quay.io/acme/ice:"v1"` }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"in-tree module with space", func(c *Config) { c.InTreeModulesToRemove = []string{"ice", "i40e e1000"} }, "inTreeModulesToRemove[1]", field.ErrorTypeInvalid},
	{"in-tree module empty", func(c *Config) { c.InTreeModulesToRemove = []string{""} }, "inTreeModulesToRemove[0]", field.ErrorTypeRequired},
	{"in-tree module duplicate", func(c *Config) { c.InTreeModulesToRemove = []string{"ice_x", "ice-x"} }, "inTreeModulesToRemove[1]", field.ErrorTypeDuplicate},
	{"in-tree module option", func(c *Config) { c.InTreeModulesToRemove = []string{"--force"} }, "inTreeModulesToRemove[0]", field.ErrorTypeInvalid},
	{"parameter with space", func(c *Config) { c.ModuleParameters = []string{"debug=1 2"} }, "moduleParameters[0]", field.ErrorTypeInvalid},
	{"parameter with quote", func(c *Config) { c.ModuleParameters = []string{`name="x"`} }, "moduleParameters[0]", field.ErrorTypeInvalid},
	{"parameter with dollar", func(c *Config) { c.ModuleParameters = []string{"debug=$HOME"} }, "moduleParameters[0]", field.ErrorTypeInvalid},
	{"parameter with newline", func(c *Config) { c.ModuleParameters = []string{"debug=1\nExecStartPre=/bin/sh"} }, "moduleParameters[0]", field.ErrorTypeInvalid},
	{"parameter with semicolon", func(c *Config) { c.ModuleParameters = []string{"debug=1;reboot"} }, "moduleParameters[0]", field.ErrorTypeInvalid},
	{"parameter as an option", func(c *Config) { c.ModuleParameters = []string{"--force"} }, "moduleParameters[0]", field.ErrorTypeInvalid},
	{"parameter empty", func(c *Config) { c.ModuleParameters = []string{"debug=1", ""} }, "moduleParameters[1]", field.ErrorTypeRequired},
	{"parameter duplicate name", func(c *Config) { c.ModuleParameters = []string{"debug=1", "debug=2"} }, "moduleParameters[1]", field.ErrorTypeDuplicate},
	{"parameter with percent", func(c *Config) { c.ModuleParameters = []string{"fmt=%s"} }, "moduleParameters[0]", field.ErrorTypeInvalid},
	{"firmware relative", func(c *Config) { c.FirmwarePath = "firmware" }, "firmwarePath", field.ErrorTypeInvalid},
	{"firmware with dotdot", func(c *Config) { c.FirmwarePath = "/firmware/../etc" }, "firmwarePath", field.ErrorTypeInvalid},
	{"firmware trailing slash", func(c *Config) { c.FirmwarePath = "/firmware/" }, "firmwarePath", field.ErrorTypeInvalid},
	{"firmware root", func(c *Config) { c.FirmwarePath = "/" }, "firmwarePath", field.ErrorTypeInvalid},
	{"firmware with space", func(c *Config) { c.FirmwarePath = "/lib/my firmware" }, "firmwarePath", field.ErrorTypeInvalid},
	{"firmware with backtick", func(c *Config) { c.FirmwarePath = "/fw`id`" }, "firmwarePath", field.ErrorTypeInvalid},
	{"firmware with newline", func(c *Config) { c.FirmwarePath = "/fw\n/etc" }, "firmwarePath", field.ErrorTypeInvalid},
	{"ignition version unknown", func(c *Config) { c.IgnitionVersion = "3.3.0" }, "ignitionVersion", field.ErrorTypeNotSupported},
	{"ignition version 2", func(c *Config) { c.IgnitionVersion = "2.2.0" }, "ignitionVersion", field.ErrorTypeNotSupported},
	{"kubelet delay without unit", func(c *Config) { c.MaxKubeletDelay = "300" }, "maxKubeletDelay", field.ErrorTypeInvalid},
	{"kubelet delay not a duration", func(c *Config) { c.MaxKubeletDelay = "five minutes" }, "maxKubeletDelay", field.ErrorTypeInvalid},
	{"kubelet delay below 30s", func(c *Config) { c.MaxKubeletDelay = "29s" }, "maxKubeletDelay", field.ErrorTypeInvalid},
	{"kubelet delay above 1h", func(c *Config) { c.MaxKubeletDelay = "61m" }, "maxKubeletDelay", field.ErrorTypeInvalid},
	{"kubelet delay negative", func(c *Config) { c.MaxKubeletDelay = "-5m" }, "maxKubeletDelay", field.ErrorTypeInvalid},
	{"kubelet delay fraction of a second", func(c *Config) { c.MaxKubeletDelay = "90.5s" }, "maxKubeletDelay", field.ErrorTypeInvalid},
	{"kubelet delay with newline", func(c *Config) { c.MaxKubeletDelay = "5m\nreboot_policy=Always" }, "maxKubeletDelay", field.ErrorTypeInvalid},
	{"shutdown delay without unit", func(c *Config) { c.MaxShutdownDelay = "300" }, "maxShutdownDelay", field.ErrorTypeInvalid},
	{"shutdown delay below 30s", func(c *Config) { c.MaxShutdownDelay = "10s" }, "maxShutdownDelay", field.ErrorTypeInvalid},
	{"shutdown delay above 20m", func(c *Config) { c.MaxShutdownDelay = "21m" }, "maxShutdownDelay", field.ErrorTypeInvalid},
	{"shutdown delay negative", func(c *Config) { c.MaxShutdownDelay = "-1m" }, "maxShutdownDelay", field.ErrorTypeInvalid},
	{"shutdown delay fraction of a second", func(c *Config) { c.MaxShutdownDelay = "45.5s" }, "maxShutdownDelay", field.ErrorTypeInvalid},
	{"reboot policy lower case", func(c *Config) { c.RebootPolicy = "always" }, "rebootPolicy", field.ErrorTypeNotSupported},
	{"reboot policy unknown", func(c *Config) { c.RebootPolicy = "OnDrain" }, "rebootPolicy", field.ErrorTypeNotSupported},
	{"reboot policy with newline", func(c *Config) { c.RebootPolicy = "Never\nExecStart=/bin/sh" }, "rebootPolicy", field.ErrorTypeNotSupported},
	// Image references the node's podman would refuse.
	{"image host with full-width letter", func(c *Config) { c.KernelModuleImage = "ｑuay.io/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image path with full-width letter", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ｉce:v1" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with docker scheme", func(c *Config) { c.KernelModuleImage = "docker://quay.io/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with trailing slash", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice/" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with double slash", func(c *Config) { c.KernelModuleImage = "quay.io/acme//ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with unbracketed IPv6", func(c *Config) { c.KernelModuleImage = "fe80::1:5000/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with unbracketed IPv6 no port", func(c *Config) { c.KernelModuleImage = "fe80::1/acme/ice:v1" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image with IPv4 in brackets", func(c *Config) { c.KernelModuleImage = "[10.0.0.1]:5000/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image port out of range", func(c *Config) { c.KernelModuleImage = "quay.io:99999999999/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image port 65536", func(c *Config) { c.KernelModuleImage = "quay.io:65536/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image port 0", func(c *Config) { c.KernelModuleImage = "quay.io:0/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image empty port", func(c *Config) { c.KernelModuleImage = "quay.io:/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image host trailing dot", func(c *Config) { c.KernelModuleImage = "quay.io./acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image host leading dash", func(c *Config) { c.KernelModuleImage = "-quay.io/acme/ice" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image path component with two dots", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice..kmod" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image tag starting with dash", func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice:-v1" }, "kernelModuleImage", field.ErrorTypeInvalid},
	{"image tag starting with dot before a digest", func(c *Config) {
		c.KernelModuleImage = "quay.io/acme/ice:.v1@sha256:" + strings.Repeat("a", 64)
	}, "kernelModuleImage", field.ErrorTypeInvalid},
	// 70 + 28 (a usual kernel version) fits in 128, 70 + 64 (the longest) does not.
	{"image placeholder tag too long for the longest kernel", func(c *Config) {
		c.KernelModuleImage = "quay.io/acme/ice:" + strings.Repeat("v", 70) + "${KERNEL_FULL_VERSION}"
	}, "kernelModuleImage", field.ErrorTypeInvalid},
	{"parameter names differing by dash and underscore", func(c *Config) { c.ModuleParameters = []string{"rx-ring=1", "rx_ring=2"} }, "moduleParameters[1]", field.ErrorTypeDuplicate},
	{"parameter name starting with dash", func(c *Config) { c.ModuleParameters = []string{"-v"} }, "moduleParameters[0]", field.ErrorTypeInvalid},
	// Valid fields that together make a MachineConfig over the MCO's limit.
	{"too many long parameters", func(c *Config) {
		for i := range 2000 {
			c.ModuleParameters = append(c.ModuleParameters, fmt.Sprintf("p%d=%s", i, strings.Repeat("x", 1000)))
		}
	}, "moduleParameters", field.ErrorTypeInvalid},
	{"too many in-tree modules", func(c *Config) {
		for i := range 30000 {
			c.InTreeModulesToRemove = append(c.InTreeModulesToRemove, fmt.Sprintf("m%055d", i))
		}
	}, "inTreeModulesToRemove", field.ErrorTypeInvalid},
	{"too many additional modules", func(c *Config) {
		for i := range 20000 {
			c.AdditionalModules = append(c.AdditionalModules, ModuleSpec{Name: fmt.Sprintf("m%055d", i)})
		}
	}, "additionalModules", field.ErrorTypeInvalid},
	{"too many parameters of an additional module", func(c *Config) {
		c.AdditionalModules = []ModuleSpec{{Name: "irdma"}}
		for i := range 2000 {
			c.AdditionalModules[0].Parameters = append(c.AdditionalModules[0].Parameters, fmt.Sprintf("p%d=%s", i, strings.Repeat("x", 1000)))
		}
	}, "additionalModules[0].parameters", field.ErrorTypeInvalid},
	{"additional module empty", func(c *Config) { c.AdditionalModules = []ModuleSpec{{}} }, "additionalModules[0].name", field.ErrorTypeRequired},
	{"additional module as an option", func(c *Config) { c.AdditionalModules = []ModuleSpec{{Name: "-r"}} }, "additionalModules[0].name", field.ErrorTypeInvalid},
	{"additional module is the main one", func(c *Config) { c.AdditionalModules = []ModuleSpec{{Name: "ice"}} }, "additionalModules[0].name", field.ErrorTypeDuplicate},
	{"additional module twice", func(c *Config) {
		c.AdditionalModules = []ModuleSpec{{Name: "irdma"}, {Name: "ice_swx"}, {Name: "ice-swx"}}
	}, "additionalModules[2].name", field.ErrorTypeDuplicate},
	{"additional module parameter injects", func(c *Config) {
		c.AdditionalModules = []ModuleSpec{{Name: "irdma", Parameters: []string{"a=1", "b=$(id)"}}}
	}, "additionalModules[0].parameters[1]", field.ErrorTypeInvalid},
	{"additional module parameter twice", func(c *Config) {
		c.AdditionalModules = []ModuleSpec{{Name: "irdma", Parameters: []string{"roce-ena=1", "roce_ena=0"}}}
	}, "additionalModules[0].parameters[1]", field.ErrorTypeDuplicate},
	{"name with slash", func(c *Config) { c.Name = "ice/../x" }, "name", field.ErrorTypeInvalid},
	{"name with space", func(c *Config) { c.Name = "ice x" }, "name", field.ErrorTypeInvalid},
	{"name starting with dot", func(c *Config) { c.Name = ".ice" }, "name", field.ErrorTypeInvalid},
	{"name too long", func(c *Config) { c.Name = strings.Repeat("n", 64) }, "name", field.ErrorTypeInvalid},
}

func TestValidateRejectsBadInput(t *testing.T) {
	n := 0
	for _, tc := range badInput {
		n++
		t.Run(tc.name, func(t *testing.T) {
			c := seedConfig()
			tc.change(&c)
			errs := c.Validate(nil, nil)
			if len(errs) != 1 {
				t.Fatalf("want exactly one error at %s, got %d: %v", tc.path, len(errs), errs)
			}
			e := errs[0]
			if e.Field != tc.path || e.Type != tc.typ {
				t.Errorf("got %s at %q, want %s at %q (%v)", e.Type, e.Field, tc.typ, tc.path, e)
			}
			// The message shows the user the value they typed, unless the
			// field was missing.
			if tc.typ != field.ErrorTypeRequired && !strings.Contains(e.Error(), strconv.Quote(valueString(e.BadValue))) {
				t.Errorf("error does not show the bad value: %v", e)
			}
			if n, err := NewMachineConfigNode(c); err == nil || n != nil {
				t.Errorf("NewMachineConfigNode produced output for bad input")
			}
		})
	}
	if n < 30 {
		t.Errorf("only %d bad-input cases", n)
	}
}

func valueString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func TestValidateReportsAllProblemsAtOnce(t *testing.T) {
	c := Config{
		MachineConfigName:     "Bad_Name",
		MachineConfigPool:     "",
		KernelModuleImage:     "not an image",
		KernelModuleName:      "ice;rm",
		InTreeModulesToRemove: []string{"ok", "bad mod"},
		ModuleParameters:      []string{"a=`x`"},
		FirmwarePath:          "../fw",
		IgnitionVersion:       "9.9.9",
	}
	errs := c.Validate(field.NewPath("spec"), field.NewPath("metadata", "name"))
	want := []string{"spec.kernelModuleName", "spec.machineConfigPool", "spec.machineConfigName",
		"spec.kernelModuleImage", "spec.inTreeModulesToRemove[1]", "spec.moduleParameters[0]",
		"spec.firmwarePath", "spec.ignitionVersion"}
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Field] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no error at %s; got %v", w, errs)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d: %v", len(errs), len(want), errs)
	}
}

func TestValidateNamePath(t *testing.T) {
	c := seedConfig()
	c.Name = "bad name"
	errs := c.Validate(field.NewPath("spec"), field.NewPath("metadata", "name"))
	if len(errs) != 1 || errs[0].Field != "metadata.name" {
		t.Fatalf("want one error at metadata.name, got %v", errs)
	}
}

func TestDerivedMachineConfigName(t *testing.T) {
	c := seedConfig()
	c.MachineConfigName = ""
	if got := c.WithDefaults().MachineConfigName; got != "99-worker-ice" {
		t.Errorf("derived name %q", got)
	}
	c.Name = "Ice_Driver"
	if got := c.WithDefaults().MachineConfigName; got != "99-worker-ice-driver" {
		t.Errorf("derived name %q is not lower-cased DNS", got)
	}
	// A name that is fine for files and units can still derive an invalid
	// object name: the error points at the field that fixes it.
	c.Name = "ice-"
	errs := c.Validate(nil, nil)
	if len(errs) != 1 || errs[0].Field != "machineConfigName" || !strings.Contains(errs[0].Error(), "set machineConfigName") {
		t.Errorf("want one error at machineConfigName, got %v", errs)
	}
}

func TestValidAccepted(t *testing.T) {
	for name, c := range map[string]Config{
		"seed":                    seedConfig(),
		"tag":                     {MachineConfigPool: "worker", KernelModuleImage: "quay.io/acme/ice-kmod:1.2.3", KernelModuleName: "ice"},
		"placeholder tag":         {MachineConfigPool: "worker", KernelModuleImage: "quay.io/acme/ice-kmod:v1-${KERNEL_FULL_VERSION}", KernelModuleName: "ice"},
		"digest":                  {MachineConfigPool: "worker", KernelModuleImage: "quay.io/acme/ice-kmod@sha256:" + strings.Repeat("0", 64), KernelModuleName: "ice"},
		"registry port":           {MachineConfigPool: "worker", KernelModuleImage: "registry.example.com:5000/acme/ice", KernelModuleName: "ice"},
		"localhost":               {MachineConfigPool: "worker", KernelModuleImage: "localhost/dummy", KernelModuleName: "dummy"},
		"no in-tree":              {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice", InTreeModulesToRemove: []string{}},
		"56 chars":                {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: strings.Repeat("m", 56)},
		"params firmware":         {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice", ModuleParameters: []string{"debug=1", "enable", "mac=00:11:22:33:44:55", "list=1,2,3"}, FirmwarePath: "/firmware/intel"},
		"dotted name":             {Name: "ice.acme.io", MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice"},
		"ignition 3.5.0":          {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice", IgnitionVersion: "3.5.0"},
		"dash underscore":         {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "mlx5_core", InTreeModulesToRemove: []string{"mlx5_ib", "mlx5-core"}},
		"bracketed IPv6":          {MachineConfigPool: "worker", KernelModuleImage: "[fe80::1]:5000/acme/ice", KernelModuleName: "ice"},
		"IPv6 no port":            {MachineConfigPool: "worker", KernelModuleImage: "[::1]/acme/ice:v1", KernelModuleName: "ice"},
		"localhost port":          {MachineConfigPool: "worker", KernelModuleImage: "localhost:5000/acme/ice", KernelModuleName: "ice"},
		"port 65535":              {MachineConfigPool: "worker", KernelModuleImage: "quay.io:65535/acme/ice", KernelModuleName: "ice"},
		"longest placeholder tag": {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b:" + strings.Repeat("v", 64) + "${KERNEL_FULL_VERSION}", KernelModuleName: "ice"},
		"additional":              {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "mlx5_core", AdditionalModules: []ModuleSpec{{Name: "mlx5_ib"}, {Name: "irdma", Parameters: []string{"roce_ena=1"}}}},
		"path separators":         {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a-b/c__d/e.f_g---h", KernelModuleName: "ice"},
		"shortest delay":          {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice", MaxKubeletDelay: "30s", RebootPolicy: "Always"},
		"longest delay":           {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice", MaxKubeletDelay: "1h", RebootPolicy: "Never"},
		"mixed delay":             {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice", MaxKubeletDelay: "2m30s", RebootPolicy: "BeforeKubelet"},
		"no fetch at shutdown":    {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice", MaxShutdownDelay: "0s"},
		"longest shutdown delay":  {MachineConfigPool: "worker", KernelModuleImage: "quay.io/a/b", KernelModuleName: "ice", MaxShutdownDelay: "20m"},
	} {
		if errs := c.Validate(nil, nil); len(errs) != 0 {
			t.Errorf("%s: refused: %v", name, errs)
		}
	}
}

func TestParseImageExplainsShortNames(t *testing.T) {
	for in, want := range map[string]string{
		"acme/ice-kmod":    "must name its registry, e.g. quay.io/acme/ice-kmod",
		"ice-kmod:1.0":     "must name its registry, e.g. quay.io/ice-kmod",
		"acme/Ice":         "repository can only contain",
		"docker.io/ubuntu": "missing 'library'",
	} {
		if _, err := ParseImage(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}

func TestParseImageModes(t *testing.T) {
	digest := "quay.io/acme/ice@sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		in, ref string
		follows bool
	}{
		{"quay.io/acme/ice-kmod", "quay.io/acme/ice-kmod:${KERNEL_FULL_VERSION}", true},
		{"registry.example.com:5000/ice", "registry.example.com:5000/ice:${KERNEL_FULL_VERSION}", true},
		{"quay.io/acme/ice-kmod:${KERNEL_FULL_VERSION}", "quay.io/acme/ice-kmod:${KERNEL_FULL_VERSION}", true},
		{"quay.io/acme/ice-kmod:v2-${KERNEL_FULL_VERSION}", "quay.io/acme/ice-kmod:v2-${KERNEL_FULL_VERSION}", true},
		{"quay.io/acme/ice-kmod:1.0", "quay.io/acme/ice-kmod:1.0", false},
		{digest, digest, false},
	} {
		img, err := ParseImage(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if img.Reference != tc.ref || img.FollowsKernel != tc.follows {
			t.Errorf("%s: got %+v, want %s follows=%v", tc.in, img, tc.ref, tc.follows)
		}
	}
}

// The defaults of the node lifecycle settings, and what lands in the
// config file the node scripts read.
func TestLifecycleDefaultsAndConfigFile(t *testing.T) {
	d := seedConfig().WithDefaults()
	if d.MaxKubeletDelay != "5m" || d.RebootPolicy != "BeforeKubelet" {
		t.Errorf("defaults: maxKubeletDelay %q, rebootPolicy %q", d.MaxKubeletDelay, d.RebootPolicy)
	}
	if got, err := time.ParseDuration(DefaultMaxKubeletDelay); err != nil || got != nodescripts.DefaultMaxKubeletDelay {
		t.Errorf("DefaultMaxKubeletDelay %q differs from the node scripts' %s", DefaultMaxKubeletDelay, nodescripts.DefaultMaxKubeletDelay)
	}
	if got, err := time.ParseDuration(DefaultMaxShutdownDelay); err != nil || got != nodescripts.DefaultMaxShutdownDelay || d.MaxShutdownDelay != DefaultMaxShutdownDelay {
		t.Errorf("DefaultMaxShutdownDelay %q (defaulted: %q) differs from the node scripts' %s", DefaultMaxShutdownDelay, d.MaxShutdownDelay, nodescripts.DefaultMaxShutdownDelay)
	}
	for _, tc := range []struct{ delay, policy, shutdown, wantDelay, wantPolicy, wantShutdown string }{
		{"", "", "", "300", "BeforeKubelet", "300"},
		{"90s", "Always", "0s", "90", "Always", "0"},
		{"1h", "Never", "20m", "3600", "Never", "1200"},
	} {
		c := seedConfig()
		c.MaxKubeletDelay, c.RebootPolicy, c.MaxShutdownDelay = tc.delay, tc.policy, tc.shutdown
		d := c.WithDefaults()
		conf := string(contents(t, decode(t, produce(t, c), d.IgnitionVersion).files[nodescripts.ConfigPath(d.Name)]))
		for _, line := range []string{"\nmax_kubelet_delay=" + tc.wantDelay + "\n", "\nreboot_policy=" + tc.wantPolicy + "\n",
			"\nmax_shutdown_delay=" + tc.wantShutdown + "\n"} {
			if !strings.Contains(conf, line) {
				t.Errorf("%+v: config file lacks %q:\n%s", tc, line, conf)
			}
		}
	}
}

// The reasons in the messages name whose rule refuses the value.
func TestRefusalClasses(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		class  string
	}{
		{func(c *Config) { c.KernelModuleImage = "quay.io/acme/ice/" }, refusedByNode},
		{func(c *Config) { c.KernelModuleName = "ice;reboot" }, mayInject},
		{func(c *Config) { c.ModuleParameters = []string{"a=1;reboot"} }, mayInject},
		{func(c *Config) {
			c.ModuleParameters = []string{"p=" + strings.Repeat("x", 1000)}
			c.InTreeModulesToRemove = nil
			for i := range 30000 {
				c.InTreeModulesToRemove = append(c.InTreeModulesToRemove, fmt.Sprintf("m%055d", i))
			}
		}, refusedByMCO},
	} {
		c := seedConfig()
		tc.change(&c)
		errs := c.Validate(nil, nil)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.class) {
			t.Errorf("want one error saying %q, got %v", tc.class, errs)
		}
	}
}

// The size error names the numbers, and the tag error the kernel's bound.
func TestLimitsAreExplained(t *testing.T) {
	c := seedConfig()
	for i := range 2000 {
		c.ModuleParameters = append(c.ModuleParameters, fmt.Sprintf("p%d=%s", i, strings.Repeat("x", 1000)))
	}
	errs := c.Validate(field.NewPath("spec"), nil)
	if len(errs) != 1 || errs[0].Field != "spec.moduleParameters" ||
		!strings.Contains(errs[0].Error(), "2000 entries") || !strings.Contains(errs[0].Error(), "limit of 1572864 bytes") {
		t.Errorf("size error: %v", errs)
	}
	c = seedConfig()
	c.KernelModuleImage = "quay.io/acme/ice:" + strings.Repeat("v", 70) + "${KERNEL_FULL_VERSION}"
	errs = c.Validate(nil, nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "64 characters long") || !strings.Contains(errs[0].Error(), "RT") {
		t.Errorf("tag error: %v", errs)
	}
}

func TestAdditionalModulesDefaultInTree(t *testing.T) {
	c := seedConfig()
	c.AdditionalModules = []ModuleSpec{{Name: "irdma"}, {Name: "ice_swx"}}
	if got := c.WithDefaults().InTreeModulesToRemove; strings.Join(got, " ") != "ice_swx irdma ice" {
		t.Errorf("default in-tree modules %v: want the additional ones last first, then the main one", got)
	}
}
