package machineconfig

import (
	"bytes"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/day1kmod/day1kmod/pkg/ynode"
)

// MaxMachineConfigSize is the MCO's limit on one MachineConfig, in bytes of
// its JSON encoding (what the API server stores).
const MaxMachineConfigSize = 1572864

// validateMCOSupport holds the MCO's rules, checked on the finished
// MachineConfig m of c (as Butane's validateMCOSupport does) and reported
// at the input field that breaks them:
//   - the object is at most MaxMachineConfigSize bytes;
//   - every file's contents is a data: URL (the MCD fetches nothing);
//   - no file mode above 0777 (the MCD refuses setuid, setgid and sticky bits).
//
// The last two depend on the generator alone: breaking them is a bug.
func validateMCOSupport(c Config, m *machineConfig, specPath *field.Path) field.ErrorList {
	at := fieldAt(specPath)
	var errs field.ErrorList
	if size := m.jsonSize(); size > MaxMachineConfigSize {
		f, n, bytes := biggestField(c)
		errs = append(errs, field.Invalid(at(f), fmt.Sprintf("%d entries, %d bytes", n, bytes),
			fmt.Sprintf("%s: the MachineConfig would be %d bytes, over the MCO's limit of %d bytes; this field makes %d bytes of it: put less in it",
				refusedByMCO, size, MaxMachineConfigSize, bytes)))
	}
	for _, f := range m.files {
		if f.Mode != nil && *f.Mode&^0o777 != 0 {
			errs = append(errs, field.InternalError(specPath, fmt.Errorf("%s: file %s has mode %#o, above 0777 (a day1kmod bug)", refusedByMCO, f.Path, *f.Mode)))
		}
		if src := f.Contents.Source; src != nil && !strings.HasPrefix(*src, "data:") {
			errs = append(errs, field.InternalError(specPath, fmt.Errorf("%s: file %s is not a data: URL (a day1kmod bug)", refusedByMCO, f.Path)))
		}
	}
	return errs
}

// jsonSize is the length of m's JSON encoding, the object as it is written
// (what a client sends to the API server). The object around the Ignition
// config is a few hundred bytes, and the values users give cannot hold a
// character JSON escapes (their patterns refuse them): so the config's
// unescaped size plus a margin bounds it, and the exact figure is computed
// only when that bound comes near the limit.
func (m *machineConfig) jsonSize() int {
	if ynode.JSONSize(m.ignition)+metadataMargin < MaxMachineConfigSize {
		return ynode.JSONSize(m.ignition)
	}
	var raw bytes.Buffer
	if err := ynode.WriteJSON(&raw, m.node().YNode()); err != nil {
		panic(err) // the node holds only mappings, lists and scalars
	}
	return raw.Len()
}

// metadataMargin bounds what the object adds to its Ignition config's JSON.
const metadataMargin = 64 << 10

// biggestField names the list field of c with the most bytes, how many
// entries it has and their bytes: the one to shorten when the MachineConfig
// is too big (every other field is short by its own limit).
func biggestField(c Config) (name string, entries, bytes int) {
	// As the entries are written in the MachineConfig: percent-encoded
	// text of the config file (see file), one separator each.
	count := func(l []string) int {
		n := 0
		for _, s := range l {
			n += len(textDataURL([]byte(s))) - len("data:,") + 3
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
		names += len(m.Name) + len("%0Aadditional_module=")
	}
	if names > bytes {
		name, entries, bytes = "additionalModules", len(c.AdditionalModules), names
	}
	return name, entries, bytes
}
