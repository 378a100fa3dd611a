package function

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func mustObject(t *testing.T, y string) *fn.KubeObject {
	t.Helper()
	o, err := fn.ParseKubeObject([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// nil means "default to [kernelModuleName]"; an explicit empty list means
// "remove no in-tree module": decoding must keep the two apart.
func TestInTreeModulesToRemoveNilVersusEmpty(t *testing.T) {
	const base = `apiVersion: day1kmod.dev/v1alpha1
kind: Day1KernelModule
metadata: {name: ice}
spec:
  machineConfigPool: worker
  kernelModuleImage: quay.io/acme/ice-kmod
  kernelModuleName: ice
`
	for _, tc := range []struct {
		name, extra string
		wantNil     bool
		wantLen     int
	}{
		{"absent", "", true, 0},
		{"null", "  inTreeModulesToRemove: null\n", true, 0},
		{"empty", "  inTreeModulesToRemove: []\n", false, 0},
		{"two", "  inTreeModulesToRemove: [ice, irdma]\n", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, errs := decodeDay1KernelModule(mustObject(t, base+tc.extra), false)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got := s.spec.InTreeModulesToRemove
			if (got == nil) != tc.wantNil || len(got) != tc.wantLen {
				t.Errorf("got %#v", got)
			}
		})
	}
}

func TestConfigMapLists(t *testing.T) {
	const base = `apiVersion: v1
kind: ConfigMap
metadata: {name: function-input}
data:
  kernelModuleName: ice
  kernelModuleImage: quay.io/acme/ice-kmod
  machineConfigPool: worker
`
	for _, tc := range []struct {
		name, extra string
		wantInTree  []string
		wantParams  []string
	}{
		{"absent", "", nil, nil},
		{"empty", "  inTreeModulesToRemove: \"\"\n  moduleParameters: \"\"\n", []string{}, []string{}},
		{"lists", "  inTreeModulesToRemove: \"ice, irdma\"\n  moduleParameters: \"debug=1  arr=1,2\"\n",
			[]string{"ice", "irdma"}, []string{"debug=1", "arr=1,2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, errs := decodeConfigMap(mustObject(t, base+tc.extra))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			check := func(field string, got, want []string) {
				if (got == nil) != (want == nil) || len(got) != len(want) {
					t.Errorf("%s: got %#v, want %#v", field, got, want)
					return
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("%s: got %#v, want %#v", field, got, want)
					}
				}
			}
			check("inTreeModulesToRemove", s.spec.InTreeModulesToRemove, tc.wantInTree)
			check("moduleParameters", s.spec.ModuleParameters, tc.wantParams)
			if s.name != "ice" {
				t.Errorf("name %q, want the kernelModuleName", s.name)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		var o, e bytes.Buffer
		if code := Main([]string{arg}, nil, &o, &e); code != 0 || o.Len() == 0 {
			t.Errorf("%s: exit %d, %d bytes", arg, code, o.Len())
		}
	}
	var o, e bytes.Buffer
	if code := Main([]string{"--bogus"}, nil, &o, &e); code != 2 || e.Len() == 0 {
		t.Errorf("--bogus: exit %d, stderr %q", code, e.String())
	}
}

// The node lifecycle settings, from both functionConfig forms: good values
// reach the spec, bad ones are errors naming the field path and the value.
func TestLifecycleSettings(t *testing.T) {
	const d1 = `apiVersion: day1kmod.dev/v1alpha1
kind: Day1KernelModule
metadata: {name: ice}
spec:
  machineConfigPool: worker
  kernelModuleImage: quay.io/acme/ice-kmod
  kernelModuleName: ice
`
	const cm = `apiVersion: v1
kind: ConfigMap
metadata: {name: function-input}
data:
  kernelModuleName: ice
  kernelModuleImage: quay.io/acme/ice-kmod
  machineConfigPool: worker
`
	for _, tc := range []struct {
		name         string
		configMap    bool
		extra        string
		delay, pol   string
		badPath, bad string
	}{
		{"spec fields", false, "  maxKubeletDelay: 90s\n  rebootPolicy: Never\n", "90s", "Never", "", ""},
		{"ConfigMap keys", true, "  maxKubeletDelay: 10m\n  rebootPolicy: Always\n", "10m", "Always", "", ""},
		{"spec delay too long", false, "  maxKubeletDelay: 2h\n", "", "", "spec.maxKubeletDelay", `"2h"`},
		{"ConfigMap policy unknown", true, "  rebootPolicy: Sometimes\n", "", "", "data.rebootPolicy", `"Sometimes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *source
			var errs field.ErrorList
			if tc.configMap {
				s, errs = decodeConfigMap(mustObject(t, cm+tc.extra))
			} else {
				s, errs = decodeDay1KernelModule(mustObject(t, d1+tc.extra), false)
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			verrs := s.spec.Validate(s.specPath, s.namePath)
			if tc.badPath == "" {
				if len(verrs) > 0 || s.spec.MaxKubeletDelay != tc.delay || s.spec.RebootPolicy != tc.pol {
					t.Errorf("got %q %q, errors %v", s.spec.MaxKubeletDelay, s.spec.RebootPolicy, verrs)
				}
				return
			}
			if len(verrs) != 1 || verrs[0].Field != tc.badPath || !strings.Contains(verrs[0].Error(), tc.bad) {
				t.Errorf("want one error at %s showing %s, got %v", tc.badPath, tc.bad, verrs)
			}
		})
	}
	for _, want := range []string{"maxKubeletDelay: 5m", "rebootPolicy: BeforeKubelet", "Always: a late fetch reboots", "RISK", "Never:",
		"maxKubeletDelay, rebootPolicy"} {
		if !strings.Contains(Usage, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
