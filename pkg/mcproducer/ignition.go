package mcproducer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	v3_2 "github.com/coreos/ignition/v2/config/v3_2"
	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	v3_4 "github.com/coreos/ignition/v2/config/v3_4"
	v3_5 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/vcontext/report"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// ignitionConfig builds the Ignition config of a defaulted, valid c as
// 3.2.0 types, converts it to the requested spec with Ignition's own
// translator, and returns the JSON only if Ignition's parser reports nothing.
func ignitionConfig(c Config) ([]byte, error) {
	name := c.Name
	img, err := ParseImage(c.KernelModuleImage)
	if err != nil {
		return nil, err
	}
	files, err := nodescripts.Files(nodescripts.Config{
		Name:          c.Name,
		Image:         img.Reference,
		Module:        c.KernelModuleName,
		InTreeModules: c.InTreeModulesToRemove,
		Parameters:    c.ModuleParameters,
		FirmwarePath:  c.FirmwarePath,
		// Validated and defaulted: whole seconds in range, a known policy.
		MaxKubeletDelay: c.maxKubeletDelay(),
		RebootPolicy:    nodescripts.RebootPolicy(c.RebootPolicy),
	})
	if err != nil {
		return nil, err
	}

	cfg := ign.Config{Ignition: ign.Ignition{Version: IgnitionV3_2}}
	for _, f := range files {
		cfg.Storage.Files = append(cfg.Storage.Files, file(f.Path, f.Mode, f.Contents))
	}
	cfg.Systemd.Units = []ign.Unit{
		enabledUnit(nodescripts.LoadUnit(name), loadUnit(name)),
		enabledUnit(nodescripts.PullUnit(name), pullUnit(name)),
		// Not enabled: the gate starts it when the tree is missing.
		{Name: nodescripts.FetchUnit(name), Contents: ptr(fetchUnit(name))},
	}
	raw, err := compactJSON(cfg)
	if err != nil {
		return nil, err
	}
	return convertAndCheck(raw, c.IgnitionVersion)
}

func file(path string, mode int, contents []byte) ign.File {
	return ign.File{
		Node: ign.Node{Path: path, Overwrite: ptr(true)},
		FileEmbedded1: ign.FileEmbedded1{
			Mode:     ptr(mode),
			Contents: ign.Resource{Source: ptr("data:;base64," + base64.StdEncoding.EncodeToString(contents))},
		},
	}
}

func enabledUnit(name, contents string) ign.Unit {
	return ign.Unit{Name: name, Enabled: ptr(true), Contents: ptr(contents)}
}

// convertAndCheck translates a 3.2.0 config to version and parses the result
// with that version's parser; any report entry, even a warning, is an error.
func convertAndCheck(raw []byte, version string) ([]byte, error) {
	var (
		out any
		rpt report.Report
		err error
	)
	switch version {
	case IgnitionV3_2:
		out, rpt, err = v3_2.Parse(raw)
	case IgnitionV3_4:
		out, rpt, err = v3_4.ParseCompatibleVersion(raw)
	case IgnitionV3_5:
		out, rpt, err = v3_5.ParseCompatibleVersion(raw)
	default:
		return nil, fmt.Errorf("unsupported Ignition spec version %q", version)
	}
	if err == nil && len(rpt.Entries) > 0 {
		err = fmt.Errorf("ignition: %s", strings.TrimSpace(rpt.String()))
	}
	if err != nil {
		return nil, fmt.Errorf("generated Ignition %s config is invalid (a day1kmod bug): %w", version, err)
	}
	return compactJSON(out)
}

// compactJSON marshals v without the empty objects and nulls that Go's
// encoding of the Ignition structs produces ("proxy": {}, "tls": {}).
func compactJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	return json.Marshal(pruneEmpty(tree))
}

// pruneEmpty drops nulls, empty objects and empty lists, recursively.
// json.Marshal then writes object keys sorted, so output is deterministic.
func pruneEmpty(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e = pruneEmpty(e); isEmpty(e) {
				delete(t, k)
			} else {
				t[k] = e
			}
		}
	case []any:
		kept := t[:0]
		for _, e := range t {
			if e = pruneEmpty(e); !isEmpty(e) {
				kept = append(kept, e)
			}
		}
		return kept
	}
	return v
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

func ptr[T any](v T) *T { return &v }
