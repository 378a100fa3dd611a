package function

import (
	"fmt"

	"github.com/kptdev/krm-functions-sdk/go/fn"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
)

// KMM's Day 1 object: a GitOps repository that holds BootModuleConfigs
// renders with day1kmod, without the operator.
const (
	KMMAPIVersion        = "kmm.sigs.x-k8s.io/v1beta1"
	BootModuleConfigKind = "BootModuleConfig"
)

// BootModuleConfig is KMM's kmm.sigs.x-k8s.io/v1beta1 BootModuleConfig, with
// the fields of KMM's api/v1beta1 (status is the operator's and not read).
type BootModuleConfig struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       BootModuleConfigSpec `json:"spec"`
	Status     map[string]any       `json:"status,omitempty"`
}

// BootModuleConfigSpec holds KMM's fields, mapped onto machineconfig.Config by
// bmcFields.
type BootModuleConfigSpec struct {
	MachineConfigName     string   `json:"machineConfigName"`
	MachineConfigPoolName string   `json:"machineConfigPoolName"`
	KernelModuleImage     string   `json:"kernelModuleImage"`
	KernelModuleName      string   `json:"kernelModuleName"`
	InTreeModulesToRemove []string `json:"inTreeModulesToRemove,omitempty"`
	FirmwareFilesPath     string   `json:"firmwareFilesPath,omitempty"`
	WorkerImage           string   `json:"workerImage,omitempty"`
}

// bmcFields: day1kmod's field name -> KMM's, where they differ, so that
// every result names the field the user wrote.
var bmcFields = map[string]string{
	"machineConfigPool": "machineConfigPoolName",
	"firmwarePath":      "firmwareFilesPath",
}

func isBootModuleConfig(o *fn.KubeObject) bool {
	return o.GetKind() == BootModuleConfigKind && o.GetAPIVersion() == KMMAPIVersion
}

// decodeBootModuleConfig decodes a BootModuleConfig strictly, as
// decodeDay1KernelModule does, and notes where KMM's meaning differs.
func decodeBootModuleConfig(o *fn.KubeObject, isItem bool) (*source, field.ErrorList) {
	if dups := duplicateKeys(o); len(dups) > 0 {
		return nil, dups
	}
	raw, err := o.CopyToResourceNode().MarshalJSON()
	if err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("spec"), nil, fmt.Sprintf("cannot convert to JSON: %v", err))}
	}
	var b BootModuleConfig
	strict, err := sigsjson.UnmarshalStrict(raw, &b)
	if err != nil {
		return nil, field.ErrorList{jsonError(o, err)}
	}
	var errs field.ErrorList
	for _, se := range strict {
		errs = append(errs, strictError(o, se))
	}
	if b.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "the name every node path and unit of this module derives from"))
	}
	spec := field.NewPath("spec")
	cfg := machineconfig.Config{
		Name:                  b.Name,
		MachineConfigName:     b.Spec.MachineConfigName,
		MachineConfigPool:     b.Spec.MachineConfigPoolName,
		KernelModuleImage:     b.Spec.KernelModuleImage,
		KernelModuleName:      b.Spec.KernelModuleName,
		InTreeModulesToRemove: b.Spec.InTreeModulesToRemove,
		FirmwarePath:          b.Spec.FirmwareFilesPath,
	}
	var notes []note
	if cfg.InTreeModulesToRemove == nil {
		// KMM removes no in-tree module unless told; keep its meaning.
		cfg.InTreeModulesToRemove = []string{}
		notes = append(notes, note{fn.Info, spec.Child("inTreeModulesToRemove"), nil,
			fmt.Sprintf("not set: no in-tree module is removed, as in KMM (a %s would remove %s by default); list the in-tree driver here if the module replaces one", Kind, b.Spec.KernelModuleName)})
	}
	if b.Spec.WorkerImage != "" {
		notes = append(notes, note{fn.Warning, spec.Child("workerImage"), b.Spec.WorkerImage,
			"has no use here and is ignored: day1kmod runs no worker image; the node scripts load the module with the host's modprobe"})
	}
	if b.Namespace != "" {
		notes = append(notes, note{fn.Info, field.NewPath("metadata", "namespace"), b.Namespace,
			"ignored: the MachineConfig is cluster-scoped"})
	}
	return &source{
		obj:      o,
		kind:     BootModuleConfigKind,
		spec:     Day1KernelModuleSpec{Config: cfg},
		name:     b.Name,
		isItem:   isItem,
		specPath: spec,
		namePath: field.NewPath("metadata", "name"),
		renames:  bmcFields,
		notes:    notes,
	}, errs
}
