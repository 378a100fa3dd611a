package machineconfig

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	ign "github.com/coreos/ignition/v2/config/v3_2/types"
	"github.com/vincent-petithory/dataurl"

	"github.com/day1kmod/day1kmod/pkg/machineconfig/internal/scriptsource"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
)

// A node script changed without `go generate` would ship its old form in
// every MachineConfig: the committed scripts_gen.go must be exactly what
// the generator writes for the scripts as they are now.
func TestScriptsGenUpToDate(t *testing.T) {
	want, err := scriptsource.Render()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(scriptsource.File)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s does not match the node scripts in pkg/nodescripts: run `go generate ./...` (or `make generate`) and commit the result", scriptsource.File)
	}
	if _, err := scriptSources(); err != nil {
		t.Fatal(err)
	}
}

// What the node receives: each source decodes and decompresses to its
// script, byte for byte, in the order of nodescripts.Scripts.
func TestScriptSourcesDecompressToScripts(t *testing.T) {
	scripts := nodescripts.Scripts()
	if len(gzippedScripts) != len(scripts) {
		t.Fatalf("%d compressed scripts, want %d", len(gzippedScripts), len(scripts))
	}
	for i, g := range gzippedScripts {
		u, err := dataurl.DecodeString(g.source)
		if err != nil {
			t.Fatalf("script %d: %v", i, err)
		}
		r, err := gzip.NewReader(bytes.NewReader(u.Data))
		if err != nil {
			t.Fatalf("script %d: %v", i, err)
		}
		if r.Name != "" || !r.ModTime.IsZero() {
			t.Errorf("script %d: gzip header holds name %q, time %v; want neither (reproducible output)", i, r.Name, r.ModTime)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("script %d: %v", i, err)
		}
		if string(b) != scripts[i] {
			t.Errorf("script %d decompresses to %d bytes that differ from the embedded script (%d bytes)", i, len(b), len(scripts[i]))
		}
	}
}

// A stale generated file is refused at run time, naming the cure, instead
// of writing old scripts into a MachineConfig.
func TestStaleScriptsGenRefused(t *testing.T) {
	scripts := nodescripts.Scripts()
	changed := slices.Clone(gzippedScripts)
	changed[1].crc32 ^= 1
	for name, gz := range map[string][]gzippedScript{
		"changed script": changed,
		"new script":     gzippedScripts[:len(gzippedScripts)-1],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sourcesOf(scripts, gz)
			if err == nil || !strings.Contains(err.Error(), "run go generate ./...") {
				t.Fatalf("got %v, want an error asking for go generate", err)
			}
		})
	}
}

// The node scripts' sources, in a config of their own, in every supported
// spec version: Ignition's validator reports nothing, and the node is
// Ignition's own (see ignitionOracle).
func TestScriptSourcesValid(t *testing.T) {
	sources, err := scriptSources()
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range SupportedIgnitionVersions {
		t.Run(version, func(t *testing.T) {
			cfg := ign.Config{Ignition: ign.Ignition{Version: IgnitionV3_2}}
			for i, res := range sources {
				cfg.Storage.Files = append(cfg.Storage.Files, file(fmt.Sprintf("/day1kmod/script-%d", i), nodescripts.ScriptMode, res))
			}
			checkEncodedConfig(t, cfg, version)
		})
	}
}
