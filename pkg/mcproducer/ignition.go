package mcproducer

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"

	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	translate3_3 "github.com/coreos/ignition/v2/config/v3_3/translate"
	translate3_4 "github.com/coreos/ignition/v2/config/v3_4/translate"
	translate3_5 "github.com/coreos/ignition/v2/config/v3_5/translate"
	"github.com/coreos/ignition/v2/config/validate"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/day1kmod/day1kmod/internal/ynode"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// ignitionConfig builds the Ignition config of a defaulted, valid c as
// 3.2.0 types, translates it to the requested spec with Ignition's own typed
// translators, checks the result with Ignition's own validator, and returns
// it as the YAML node it is written as, with its files as 3.2 types. Nothing
// is parsed back from text:
// the tests and the fuzz target prove that the parsers accept what this
// emits, for every spec version.
func ignitionConfig(c Config) (*yaml.Node, []ign.File, error) {
	name := c.Name
	img, err := ParseImage(c.KernelModuleImage)
	if err != nil {
		return nil, nil, err
	}
	files, err := nodescripts.Files(nodescripts.Config{
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
	})
	if err != nil {
		return nil, nil, err
	}

	cfg := ign.Config{Ignition: ign.Ignition{Version: IgnitionV3_2}}
	for _, f := range files {
		// The config file as text, so that a changed value is a readable
		// change of the MachineConfig; the scripts stay base64.
		text := f.Path == nodescripts.ConfigPath(name)
		cfg.Storage.Files = append(cfg.Storage.Files, file(f.Path, f.Mode, f.Contents, text))
	}
	cfg.Systemd.Units = []ign.Unit{
		enabledUnit(nodescripts.LoadUnit(name), loadUnit(name)),
		enabledUnit(nodescripts.PullUnit(name), pullUnit(name)),
		// Not enabled: the gate starts it when the tree is missing.
		{Name: nodescripts.FetchUnit(name), Contents: ptr(fetchUnit(name))},
		enabledUnit(nodescripts.PrefetchUnit(name), prefetchUnit(name)),
	}
	n, err := checkedNode(cfg, c.IgnitionVersion)
	return n, cfg.Storage.Files, err
}

// checkedNode translates cfg to version, validates it there with Ignition's
// own validator and encodes it. Any report entry, even a warning, is an
// error: it would be a day1kmod bug.
//
// The node scripts are the same in every config, and decoding their data
// URLs is most of what validation costs: each script's source is validated
// once per process and spec version (validScripts); the config is validated
// with a short stand-in source in their place, and the real source is put
// back into the encoded node.
func checkedNode(cfg ign.Config, version string) (*yaml.Node, error) {
	if err := validScripts(version); err != nil {
		return nil, err
	}
	real := map[string]string{}
	cfg.Storage.Files = slices.Clone(cfg.Storage.Files) // the caller's stay as they are
	for i := range cfg.Storage.Files {
		src := cfg.Storage.Files[i].Contents.Source
		if stand, ok := scriptStandIns()[*src]; ok {
			real[stand] = *src
			cfg.Storage.Files[i].Contents.Source = ptr(stand)
		}
	}
	n, err := translateAndEncode(cfg, version)
	if err != nil {
		return nil, err
	}
	if len(real) > 0 {
		restoreSources(n, real)
	}
	return n, nil
}

func translateAndEncode(cfg ign.Config, version string) (*yaml.Node, error) {
	var out any
	switch version {
	case IgnitionV3_2:
		out = cfg
	case IgnitionV3_4:
		out = translate3_4.Translate(translate3_3.Translate(cfg))
	case IgnitionV3_5:
		out = translate3_5.Translate(translate3_4.Translate(translate3_3.Translate(cfg)))
	default:
		return nil, fmt.Errorf("unsupported Ignition spec version %q", version)
	}
	if rpt := validate.ValidateWithContext(out, nil); len(rpt.Entries) > 0 {
		return nil, fmt.Errorf("generated Ignition %s config is invalid (a day1kmod bug): ignition: %s", version, strings.TrimSpace(rpt.String()))
	}
	n, err := ynode.Encode(out)
	if err != nil {
		return nil, fmt.Errorf("encoding the Ignition %s config: %w", version, err)
	}
	return n, nil
}

// restoreSources replaces the stand-in sources in n by the real ones.
func restoreSources(n *yaml.Node, real map[string]string) {
	if n.Kind == yaml.ScalarNode {
		if r, ok := real[n.Value]; ok {
			n.Value = r
		}
		return
	}
	for _, c := range n.Content {
		restoreSources(c, real)
	}
}

func additionalModules(ms []ModuleSpec) []nodescripts.Module {
	var out []nodescripts.Module
	for _, m := range ms {
		out = append(out, nodescripts.Module{Name: m.Name, Parameters: m.Parameters})
	}
	return out
}

// file is an Ignition file with its contents in a data: URL: text
// ("data:,...", see textDataURL) when text is true; a node script gzipped
// (see scriptSources); anything else base64.
func file(path string, mode int, contents []byte, text bool) ign.File {
	var res ign.Resource
	switch src, isScript := scriptSources()[string(contents)]; {
	case text:
		res.Source = ptr(textDataURL(contents))
	case isScript:
		res = ign.Resource{Source: ptr(src), Compression: ptr("gzip")}
	default:
		res.Source = ptr(encodeDataURL(contents))
	}
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

func encodeDataURL(b []byte) string {
	return "data:;base64," + base64.StdEncoding.EncodeToString(b)
}

// gzipped is b compressed with a header that holds no time or name, so the
// same script gives the same bytes.
func gzipped(b []byte) []byte {
	var out bytes.Buffer
	w, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err == nil {
		_, err = w.Write(b)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil { // writing to a bytes.Buffer does not fail
		panic(err)
	}
	return out.Bytes()
}

// scriptSources maps each node script to its source: gzipped, then base64.
// The scripts are most of a MachineConfig; compressed, they are about a
// third of what they are as plain base64, which the MCO's size limit, the
// API server and every reader and writer of the output feel. Ignition
// (spec 3.1 and later) and the MCD decompress "compression: gzip".
// scriptStandIns maps each such source to a short one that stands in for it
// during validation.
var (
	scriptSources = sync.OnceValue(func() map[string]string {
		m := map[string]string{}
		for _, s := range nodescripts.Scripts() {
			m[s] = encodeDataURL(gzipped([]byte(s)))
		}
		return m
	})
	scriptStandIns = sync.OnceValue(func() map[string]string {
		m := map[string]string{}
		for i, s := range nodescripts.Scripts() {
			m[scriptSources()[s]] = fmt.Sprintf("data:,day1kmod-node-script-%d", i)
		}
		return m
	})
)

// validScripts validates the node scripts' files, with their real sources,
// once per spec version.
func validScripts(version string) error {
	scriptChecks.Lock()
	defer scriptChecks.Unlock()
	if err, ok := scriptChecks.done[version]; ok {
		return err
	}
	cfg := ign.Config{Ignition: ign.Ignition{Version: IgnitionV3_2}}
	for i, s := range nodescripts.Scripts() {
		cfg.Storage.Files = append(cfg.Storage.Files, file(fmt.Sprintf("/day1kmod/script-%d", i), nodescripts.ScriptMode, []byte(s), false))
	}
	_, err := translateAndEncode(cfg, version)
	scriptChecks.done[version] = err
	return err
}

var scriptChecks = struct {
	sync.Mutex
	done map[string]error
}{done: map[string]error{}}

func enabledUnit(name, contents string) ign.Unit {
	return ign.Unit{Name: name, Enabled: ptr(true), Contents: ptr(contents)}
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
