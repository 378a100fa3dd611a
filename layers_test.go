package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/day1kmod/day1kmod"

// layers is the one statement of the layering rule, bottom first. A package
// (its code and its tests) may import packages of its own layer and of the
// layers below it, never of a layer above: the folders tell who may import
// whom. A package that matches no layer fails the test: place it in one.
//
//	internal/*  test helpers shared across layers; tests alone import them
//	pkg/*       the library: mcproducer, machineconfig, nodescripts, verify, ynode, lazyregexp
//	function    the KRM function
//	verifycmd   the commands beside the function (day1kmod verify)
//	main        main.go's dispatch, and what drives the binary from outside
//	            (examples/, hack/)
var layers = []struct {
	name string
	// dirs are module-relative: "x" is the package x, "x/" every package
	// under x.
	dirs []string
}{
	{"test helpers", []string{"internal/"}},
	{"library", []string{"pkg/"}},
	{"function", []string{"function"}},
	{"commands", []string{"verifycmd"}},
	{"main", []string{"", "examples", "hack/"}},
}

// testHelpers is the layer only test files may import.
const testHelpers = 0

// layerOf is the index in layers of the module's package path, or -1.
func layerOf(path string) int {
	rel, ok := strings.CutPrefix(path, module)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return -1
	}
	rel = strings.TrimPrefix(rel, "/")
	for i, l := range layers {
		for _, d := range l.dirs {
			if rel == d || (strings.HasSuffix(d, "/") && strings.HasPrefix(rel, d)) {
				return i
			}
		}
	}
	return -1
}

func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`,
		"./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list found %d packages:\n%s", len(lines), out)
	}
	for _, line := range lines {
		pkg, rest, _ := strings.Cut(line, "|")
		code, tests, _ := strings.Cut(rest, "|")
		from := layerOf(pkg)
		if from < 0 {
			t.Errorf("%s is in no layer: place it under a folder of layers_test.go's layers", pkg)
			continue
		}
		check := func(imports string, test bool) {
			for _, imp := range strings.Fields(imports) {
				if !strings.HasPrefix(imp, module+"/") && imp != module {
					continue
				}
				to := layerOf(imp)
				switch {
				case to < 0:
					t.Errorf("%s imports %s, which is in no layer", pkg, imp)
				case to > from:
					t.Errorf("%s (%s) imports %s (%s), a layer above it", pkg, layers[from].name, imp, layers[to].name)
				case to == testHelpers && !test:
					t.Errorf("%s imports the test helper %s outside its tests", pkg, imp)
				}
			}
		}
		check(code, false)
		check(tests, true)
	}
}

// notLinked are packages the day1kmod binary must not link: their package
// initialisation alone costs the function more start-up time and memory than
// its whole work on one item (make bench measures it). Go programs that want
// the typed MachineConfig import pkg/mcproducer, which the binary does not.
// "x/" is every package under x, "x" the package x.
var notLinked = []string{
	"github.com/openshift/api/",
	"k8s.io/api/",
	"k8s.io/apimachinery/pkg/apis/",
	"k8s.io/apimachinery/pkg/runtime",
	module + "/pkg/mcproducer",
}

func TestBinaryLinksNoAPITypes(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps found %d packages", len(deps))
	}
	for _, d := range deps {
		for _, p := range notLinked {
			if d == p || strings.HasSuffix(p, "/") && strings.HasPrefix(d, p) {
				t.Errorf("the binary links %s: keep it out of function/, verifycmd/ and what they import", d)
			}
		}
	}
}
