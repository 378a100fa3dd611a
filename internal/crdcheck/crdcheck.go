// Package crdcheck validates objects against the CustomResourceDefinitions
// shipped in the github.com/openshift/api module, the way an API server
// would on create: the structural schema (unknown fields are pruned, which
// we report), the OpenAPI validation, and the CEL rules.
package crdcheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// The CRD manifests inside the openshift/api module.
const (
	MachineConfigCRD = "machineconfiguration/v1/zz_generated.crd-manifests/0000_80_machine-config_01_machineconfigs.crd.yaml"
	// Pools have one CRD per feature set; self-managed clusters (what
	// day1kmod targets) get this one.
	MachineConfigPoolCRD = "machineconfiguration/v1/zz_generated.crd-manifests/0000_80_machine-config_01_machineconfigpools-SelfManagedHA.crd.yaml"
	// The MCO's operator configuration, which holds the node disruption policies.
	MachineConfigurationCRD = "operator/v1/zz_generated.crd-manifests/0000_80_machine-config_01_machineconfigurations.crd.yaml"
)

// Validator checks objects of one CRD version.
type Validator struct {
	structural *structuralschema.Structural
	schema     validation.SchemaCreateValidator
	cel        *cel.Validator
}

// Load reads crdPath (relative to the openshift/api module) and prepares the
// validator for the CRD's served version.
func Load(crdPath, version string) (*Validator, error) {
	dir, err := openshiftAPIDir()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, crdPath))
	if err != nil {
		return nil, err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", crdPath, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version || v.Schema == nil {
			continue
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return nil, err
		}
		s, err := structuralschema.NewStructural(&internal)
		if err != nil {
			return nil, err
		}
		sv, _, err := validation.NewSchemaValidator(&internal)
		if err != nil {
			return nil, err
		}
		return &Validator{structural: s, schema: sv, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}, nil
	}
	return nil, fmt.Errorf("%s: no version %q with a schema", crdPath, version)
}

// Validate returns every way obj (decoded JSON or YAML) would be changed or
// refused by an API server serving the CRD; none means it is accepted as is.
func (v *Validator) Validate(obj map[string]any) []string {
	var problems []string
	copied := deepCopy(obj)
	for _, p := range pruning.PruneWithOptions(copied, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		problems = append(problems, "unknown field (the API server would drop it): "+p)
	}
	for _, e := range validation.ValidateCustomResource(nil, obj, v.schema) {
		problems = append(problems, e.Error())
	}
	if v.cel != nil {
		errs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
	}
	return problems
}

func deepCopy(obj map[string]any) map[string]any {
	data, _ := yaml.Marshal(obj)
	var out map[string]any
	_ = yaml.Unmarshal(data, &out)
	return out
}

// openshiftAPIDir asks the go command where the module is, so the schema is
// the one of the exact version in go.mod.
func openshiftAPIDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/openshift/api").Output()
	if err != nil {
		return "", fmt.Errorf("locating github.com/openshift/api: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("github.com/openshift/api is not in the module cache; run go mod download")
	}
	return dir, nil
}
