package machineconfig

import (
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"unsafe"

	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/day1kmod/day1kmod/pkg/machineconfig/internal/scriptsource"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
	"github.com/day1kmod/day1kmod/pkg/ynode"
)

// ignitionConfig returns the Ignition config of a defaulted, valid c as the
// YAML node it is written as (see encodeConfig), with its files as 3.2 types.
func ignitionConfig(c Config) (*yaml.Node, []ign.File, error) {
	cfg, err := ignitionTypes(c)
	if err != nil {
		return nil, nil, err
	}
	n, err := encodeConfig(cfg, c.IgnitionVersion)
	return n, cfg.Storage.Files, err
}

// ignitionTypes builds the Ignition config of a defaulted, valid c as 3.2.0
// types.
func ignitionTypes(c Config) (ign.Config, error) {
	name := c.Name
	img, err := ParseImage(c.KernelModuleImage)
	if err != nil {
		return ign.Config{}, err
	}
	conf, err := nodescripts.Config{
		Name:          c.Name,
		Image:         img.Reference,
		Module:        c.KernelModuleName,
		InTreeModules: c.InTreeModulesToRemove,
		Parameters:    c.ModuleParameters,
		FirmwarePath:  c.FirmwarePath,
		Additional:    additionalModules(c.AdditionalModules),
		// Validated and defaulted: whole seconds in range, a known policy.
		MaxKubeletDelay:  c.maxKubeletDelay(),
		RebootPolicy:     nodescripts.RebootPolicy(c.RebootPolicy),
		MaxShutdownDelay: c.maxShutdownDelay(),
	}.Render()
	if err != nil {
		return ign.Config{}, err
	}
	scripts, err := scriptSources()
	if err != nil {
		return ign.Config{}, err
	}
	cfg := ign.Config{Ignition: ign.Ignition{Version: IgnitionV3_2}}
	// The config file as text, so that a changed value is a readable change
	// of the MachineConfig; the scripts gzipped.
	cfg.Storage.Files = append(cfg.Storage.Files,
		file(nodescripts.ConfigPath(name), nodescripts.ConfigMode, ign.Resource{Source: ptr(textDataURL(conf))}))
	for i, path := range nodescripts.ScriptPaths(name) {
		cfg.Storage.Files = append(cfg.Storage.Files, file(path, nodescripts.ScriptMode, scripts[i]))
	}
	cfg.Systemd.Units = []ign.Unit{
		enabledUnit(nodescripts.LoadUnit(name), loadUnit(name)),
		enabledUnit(nodescripts.PullUnit(name), pullUnit(name)),
		// Not enabled: the gate starts it when the tree is missing.
		{Name: nodescripts.FetchUnit(name), Contents: ptr(fetchUnit(name))},
		enabledUnit(nodescripts.PrefetchUnit(name), prefetchUnit(name)),
	}
	return cfg, nil
}

// encodeConfig writes cfg, built with 3.2.0 types, as a config of the spec
// version. Every field day1kmod writes (a file's path, overwrite, mode,
// contents source and compression; a unit's name, enabled and contents)
// has the same name, type and meaning in every spec from 3.2.0 to 3.5.0, so
// the version field is all that differs. The tests hold this to Ignition
// itself: for every spec version, option and fuzzed input, the node is the
// one Ignition's typed translators make, Ignition's validator reports
// nothing on it and its parser accepts it. The function does not link the
// translators and the validator: their package initialisation and work cost
// more than everything else it does (make bench).
func encodeConfig(cfg ign.Config, version string) (*yaml.Node, error) {
	if !slices.Contains(SupportedIgnitionVersions, version) {
		return nil, fmt.Errorf("unsupported Ignition spec version %q", version)
	}
	cfg.Ignition.Version = version
	n, err := ynode.Encode(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the Ignition %s config: %w", version, err)
	}
	return n, nil
}

func additionalModules(ms []ModuleSpec) []nodescripts.Module {
	var out []nodescripts.Module
	for _, m := range ms {
		out = append(out, nodescripts.Module{Name: m.Name, Parameters: m.Parameters})
	}
	return out
}

// file is an Ignition file of the contents res, replacing what is there.
func file(path string, mode int, res ign.Resource) ign.File {
	return ign.File{
		Node: ign.Node{Path: path, Overwrite: ptr(true)},
		FileEmbedded1: ign.FileEmbedded1{
			Mode:     ptr(mode),
			Contents: res,
		},
	}
}

// textDataURL is a "data:," URL of text that reads in a diff: percent-encoded
// as the package Ignition and the MCD decode it with encodes it (RFC 2396),
// except for the reserved characters a URL's data may hold as they are,
// which are most of a key=value line: "=", "/", ":", ",", "+", "@", "$".
func textDataURL(b []byte) string {
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len("data:,")+len(b)+len(b)/2)
	out = append(out, "data:,"...)
	for _, c := range b {
		if keptInTextURL(c) {
			out = append(out, c)
		} else {
			out = append(out, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(out)
}

// keptInTextURL: RFC 2396's unreserved characters (those dataurl.Escape
// keeps) and the reserved ones above.
func keptInTextURL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-_.!~*'()"+"=/:,+@$", c) >= 0
}

// gzippedScript is a node script as the MachineConfig carries it: its data:
// URL source (gzipped, then base64), and the size and CRC-32 of the script
// the source was made from. scripts_gen.go holds them, written by
// `go generate ./pkg/machineconfig` (see internal/scriptsource) so that no run
// of the function compresses anything.
//
// The scripts are most of a MachineConfig; compressed, they are about a
// third of what they are as plain base64, which the MCO's size limit, the
// API server and every reader and writer of the output feel. Ignition
// (spec 3.1 and later) and the MCD decompress "compression: gzip".
type gzippedScript struct {
	size   int
	crc32  uint32
	source string
}

//go:generate go run gen_scripts.go

// scriptSources are the contents of the node scripts as the MachineConfig
// carries them (gzipped), in the order of nodescripts.Scripts. It fails
// when scripts_gen.go does not match the embedded scripts (a script changed
// without `go generate`), rather than put old scripts into a MachineConfig;
// a test fails on it first.
var scriptSources = sync.OnceValues(func() ([]ign.Resource, error) { return sourcesOf(nodescripts.Scripts(), gzippedScripts) })

// sourcesOf returns the contents of gz, checking that each was made from
// the script at its index.
func sourcesOf(scripts []string, gz []gzippedScript) ([]ign.Resource, error) {
	if len(scripts) != len(gz) {
		return nil, fmt.Errorf("%d node scripts but %d compressed ones: %s is stale (a day1kmod build bug: run go generate ./...)", len(scripts), len(gz), scriptsGenFile)
	}
	m := make([]ign.Resource, len(scripts))
	for i, s := range scripts {
		// The checksum reads the script in place: []byte(s) would copy the
		// scripts on every run.
		if len(s) != gz[i].size || crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s))) != gz[i].crc32 {
			return nil, fmt.Errorf("node script %d differs from its compressed form: %s is stale (a day1kmod build bug: run go generate ./...)", i, scriptsGenFile)
		}
		m[i] = ign.Resource{Source: ptr(gz[i].source), Compression: ptr("gzip")}
	}
	return m, nil
}

// scriptsGenFile names the generated file in errors.
const scriptsGenFile = "pkg/machineconfig/" + scriptsource.File

func enabledUnit(name, contents string) ign.Unit {
	return ign.Unit{Name: name, Enabled: ptr(true), Contents: ptr(contents)}
}

func ptr[T any](v T) *T { return &v }
