package mcproducer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
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

// Units and scripts depend on N only: every other value the user gives is
// data in the config file, so none can reach a unit line or a shell word.

// loadUnit runs before network-pre.target, so before NetworkManager brings up
// an interface with the in-tree driver the module replaces.
func loadUnit(name string) string {
	return serializeUnit([]*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "day1kmod: load the out-of-tree kernel module of "+name+" before the network"),
		unit.NewUnitOption("Unit", "DefaultDependencies", "no"),
		unit.NewUnitOption("Unit", "After", "local-fs.target systemd-modules-load.service systemd-udev-trigger.service"),
		unit.NewUnitOption("Unit", "Before", "network-pre.target shutdown.target"),
		unit.NewUnitOption("Unit", "Wants", "network-pre.target"),
		unit.NewUnitOption("Unit", "Conflicts", "shutdown.target"),
		unit.NewUnitOption("Service", "Type", "oneshot"),
		unit.NewUnitOption("Service", "RemainAfterExit", "yes"),
		unit.NewUnitOption("Service", "ExecStart", nodescripts.LoadCommand(name)),
		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	})
}

// pullUnit needs the network; its script reboots the node once when it has
// extracted a module tree for the running kernel. The script retries the
// pull for minutes; the unit retries the script after that, since a node
// whose registry is unreachable for a while must still get its module,
// except when the image itself cannot work.
func pullUnit(name string) string {
	return serializeUnit([]*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "day1kmod: fetch the out-of-tree kernel module of "+name+" for the running kernel"),
		unit.NewUnitOption("Unit", "Wants", "network-online.target"),
		unit.NewUnitOption("Unit", "After", "network-online.target "+nodescripts.LoadUnit(name)),
		unit.NewUnitOption("Service", "Type", "oneshot"),
		unit.NewUnitOption("Service", "RemainAfterExit", "yes"),
		unit.NewUnitOption("Service", "ExecStart", nodescripts.PullCommand(name)),
		unit.NewUnitOption("Service", "Restart", "on-failure"),
		unit.NewUnitOption("Service", "RestartSec", "1min"),
		unit.NewUnitOption("Service", "RestartPreventExitStatus", strconv.Itoa(nodescripts.PullExitImageUnusable)),
		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	})
}

func serializeUnit(opts []*unit.UnitOption) string {
	b, err := io.ReadAll(unit.Serialize(opts))
	if err != nil { // reading a bytes.Buffer does not fail
		panic(err)
	}
	return string(b)
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
