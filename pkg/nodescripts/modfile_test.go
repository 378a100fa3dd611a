package nodescripts

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

type moduleFileCase struct {
	file, module string
	match        bool
}

// moduleFileCases reads testdata/module-files.tsv: which files count as a
// module, for the Go rule and the node's find_module_file alike.
func moduleFileCases(t *testing.T) []moduleFileCase {
	t.Helper()
	b, err := os.ReadFile("testdata/module-files.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var cases []moduleFileCase
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || (f[2] != "yes" && f[2] != "no") {
			t.Fatalf("module-files.tsv line %d: want file, module, yes|no separated by tabs: %q", i+1, line)
		}
		cases = append(cases, moduleFileCase{f[0], f[1], f[2] == "yes"})
	}
	if len(cases) == 0 {
		t.Fatal("module-files.tsv holds no case")
	}
	return cases
}

func TestModuleOfFile(t *testing.T) {
	for _, c := range moduleFileCases(t) {
		name, ok := ModuleOfFile(path.Base(c.file))
		if got := ok && ModuleKey(name) == ModuleKey(c.module); got != c.match {
			t.Errorf("%s as module %s: Go rule says %v, the table %v", c.file, c.module, got, c.match)
		}
	}
}

// The node's find_module_file (lib.sh, run by bash) agrees with the table.
func TestShellFindModuleFileAgrees(t *testing.T) {
	lib, err := filepath.Abs("lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range moduleFileCases(t) {
		dir := t.TempDir()
		p := filepath.Join(dir, filepath.FromSlash(c.file))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("bash", "-c", `set -euo pipefail; . "$1"; find_module_file "$2" "$3"`, "bash", lib, dir, c.module).CombinedOutput()
		if err != nil {
			t.Fatalf("find_module_file %s %s: %v\n%s", c.file, c.module, err, out)
		}
		if got := strings.TrimSpace(string(out)) != ""; got != c.match {
			t.Errorf("%s as module %s: find_module_file says %v (%q), the table %v", c.file, c.module, got, out, c.match)
		}
	}
}
