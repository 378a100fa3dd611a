package machineconfig

import (
	"bytes"
	"strings"
	"testing"

	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	translate3_3 "github.com/coreos/ignition/v2/config/v3_3/translate"
	translate3_4 "github.com/coreos/ignition/v2/config/v3_4/translate"
	translate3_5 "github.com/coreos/ignition/v2/config/v3_5/translate"
	"github.com/coreos/ignition/v2/config/validate"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/day1kmod/day1kmod/pkg/ynode"
)

// ignitionOracle is cfg as Ignition itself makes a config of the spec
// version: translated by its typed translators, then checked by its
// validator (any report entry, even a warning, fails the test).
func ignitionOracle(t testing.TB, cfg ign.Config, version string) []byte {
	t.Helper()
	var out any
	switch version {
	case IgnitionV3_2:
		out = cfg
	case IgnitionV3_4:
		out = translate3_4.Translate(translate3_3.Translate(cfg))
	case IgnitionV3_5:
		out = translate3_5.Translate(translate3_4.Translate(translate3_3.Translate(cfg)))
	default:
		t.Fatalf("no oracle for spec version %s: add its translators here", version)
	}
	if rpt := validate.ValidateWithContext(out, nil); len(rpt.Entries) > 0 {
		t.Fatalf("Ignition's validator on the %s config: %s", version, strings.TrimSpace(rpt.String()))
	}
	n, err := ynode.Encode(out)
	if err != nil {
		t.Fatal(err)
	}
	return jsonOf(t, n)
}

func jsonOf(t testing.TB, n *yaml.Node) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ynode.WriteJSON(&b, n); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkEncodedConfig: encodeConfig writes what Ignition makes of cfg.
func checkEncodedConfig(t testing.TB, cfg ign.Config, version string) {
	t.Helper()
	n, err := encodeConfig(cfg, version)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(t, n), ignitionOracle(t, cfg, version); !bytes.Equal(got, want) {
		t.Fatalf("the %s config differs from Ignition's translation:\n got %.2000s\nwant %.2000s", version, got, want)
	}
}

// For every option and every supported spec version, the config written is
// the one Ignition's translators make, and its validator accepts it.
func TestEncodeConfigIsIgnitions(t *testing.T) {
	for name, c := range outputCases() {
		cfg, err := ignitionTypes(c.WithDefaults())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range SupportedIgnitionVersions {
			t.Run(name+"/"+v, func(t *testing.T) { checkEncodedConfig(t, cfg, v) })
		}
	}
	if _, err := encodeConfig(ign.Config{}, "3.3.0"); err == nil {
		t.Error("encodeConfig writes a spec version it does not support")
	}
}
