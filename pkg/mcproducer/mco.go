package mcproducer

import (
	"encoding/json"
	"fmt"
	"strings"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	"github.com/vincent-petithory/dataurl"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxMachineConfigSize is the MCO's limit on one MachineConfig, in bytes of
// its JSON encoding (what the API server stores).
const MaxMachineConfigSize = 1572864

// validateMCOSupport holds the MCO's rules, checked on the finished
// MachineConfig mc of c (as Butane's validateMCOSupport does) and reported
// at the input field that breaks them:
//   - the object is at most MaxMachineConfigSize bytes;
//   - every file's contents is a data: URL (the MCD fetches nothing);
//   - no file mode above 0777 (the MCD refuses setuid, setgid and sticky bits).
//
// The last two depend on the generator alone: breaking them is a bug.
func validateMCOSupport(c Config, mc *mcfgv1.MachineConfig, specPath *field.Path) field.ErrorList {
	at := fieldAt(specPath)
	var errs field.ErrorList
	raw, err := json.Marshal(mc)
	if err != nil {
		return field.ErrorList{field.InternalError(specPath, err)}
	}
	if size := len(raw); size > MaxMachineConfigSize {
		f, n, bytes := biggestField(c)
		errs = append(errs, field.Invalid(at(f), fmt.Sprintf("%d entries, %d bytes", n, bytes),
			fmt.Sprintf("%s: the MachineConfig would be %d bytes, over the MCO's limit of %d bytes; this field makes %d bytes of it: put less in it",
				refusedByMCO, size, MaxMachineConfigSize, bytes)))
	}
	var ignCfg struct {
		Storage struct {
			Files []struct {
				Path     string `json:"path"`
				Mode     *int   `json:"mode"`
				Contents struct {
					Source *string `json:"source"`
				} `json:"contents"`
			} `json:"files"`
		} `json:"storage"`
	}
	if err := json.Unmarshal(mc.Spec.Config.Raw, &ignCfg); err != nil {
		return append(errs, field.InternalError(specPath, err))
	}
	for _, f := range ignCfg.Storage.Files {
		if f.Mode != nil && *f.Mode&^0o777 != 0 {
			errs = append(errs, field.InternalError(specPath, fmt.Errorf("%s: file %s has mode %#o, above 0777 (a day1kmod bug)", refusedByMCO, f.Path, *f.Mode)))
		}
		if f.Contents.Source != nil && !strings.HasPrefix(*f.Contents.Source, "data:") {
			errs = append(errs, field.InternalError(specPath, fmt.Errorf("%s: file %s is not a data: URL (a day1kmod bug)", refusedByMCO, f.Path)))
		}
	}
	return errs
}

// biggestField names the list field of c with the most bytes, how many
// entries it has and their bytes: the one to shorten when the MachineConfig
// is too big (every other field is short by its own limit).
func biggestField(c Config) (name string, entries, bytes int) {
	// As the entries are written in the MachineConfig: percent-encoded
	// text of the config file (see file), one separator each.
	count := func(l []string) int {
		n := 0
		for _, s := range l {
			n += len(dataurl.EscapeString(s)) + 3
		}
		return n
	}
	name, entries, bytes = "moduleParameters", len(c.ModuleParameters), count(c.ModuleParameters)
	if b := count(c.InTreeModulesToRemove); b > bytes {
		name, entries, bytes = "inTreeModulesToRemove", len(c.InTreeModulesToRemove), b
	}
	for i, m := range c.AdditionalModules {
		if b := count(m.Parameters); b > bytes {
			name, entries, bytes = fmt.Sprintf("additionalModules[%d].parameters", i), len(m.Parameters), b
		}
	}
	names := 0
	for _, m := range c.AdditionalModules {
		names += len(m.Name) + len("%0Aadditional_module%3D")
	}
	if names > bytes {
		name, entries, bytes = "additionalModules", len(c.AdditionalModules), names
	}
	return name, entries, bytes
}
