// Package testtools finds the programs the tests run besides Go (checkers
// such as shellcheck, clients such as kpt), which hack/tools.txt lists and
// `make tools` installs. A missing one fails the test with the way to get
// it: a green run means every check ran.
package testtools

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// List is the list of the programs, relative to the repository's root.
const List = "hack/tools.txt"

// Path is the program name as the tests run it: $NAME (upper case, '-' as
// '_') when set, else the repository's bin/name, else name on PATH. A name
// that hack/tools.txt does not list fails the test, so the list stays
// the one statement of what the tests need.
func Path(t testing.TB, name string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	listed, err := Listed(root)
	if err != nil {
		t.Fatal(err)
	}
	if !listed[name] {
		t.Fatalf("%s is not listed in %s: list it there, so that make tools installs it", name, List)
	}
	env := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p := filepath.Join(root, "bin", name); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s is not installed, so this test cannot run: `make tools` installs it, or says how "+
		"(or set $%s to its path)", name, env)
	return ""
}

// Listed is the set of programs hack/tools.txt lists under root.
func Listed(root string) (map[string]bool, error) {
	f, err := os.Open(filepath.Join(root, List))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 0 && !strings.HasPrefix(fields[0], "#") {
			names[fields[0]] = true
		}
	}
	return names, s.Err()
}

// RepoRoot is the directory of go.mod, from the working directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
