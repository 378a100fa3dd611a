package crdcheck

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The checker must refuse what an API server refuses, or its silence on the
// producer's output means nothing.
func TestMachineConfigSchemaRefusesBadObjects(t *testing.T) {
	v, err := Load(MachineConfigCRD, "v1")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ doc, want string }{
		"accepted":        {doc: "spec: {config: {ignition: {version: 3.2.0}}}"},
		"extensions null": {doc: "spec: {extensions: null}", want: "spec.extensions"},
		"unknown field":   {doc: "spec: {kernelArgs: [a]}", want: "unknown field"},
		"wrong type":      {doc: "spec: {fips: \"yes\"}", want: "spec.fips"},
	} {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte("apiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig\nmetadata: {name: x}\n"+tc.doc), &obj); err != nil {
			t.Fatal(err)
		}
		problems := strings.Join(v.Validate(obj), "\n")
		if (tc.want == "") != (problems == "") || !strings.Contains(problems, tc.want) {
			t.Errorf("%s: got %q, want a problem mentioning %q", name, problems, tc.want)
		}
	}
}
