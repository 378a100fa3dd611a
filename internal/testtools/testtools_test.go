package testtools

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB whose Fatal ends only the goroutine of Path,
// keeping the message.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(a ...any) {
	r.msg = fmt.Sprint(a...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(f string, a ...any) {
	r.msg = fmt.Sprintf(f, a...)
	runtime.Goexit()
}

// path runs Path in its own goroutine: the program found, or the failure.
func path(t *testing.T, name string) (found, failure string) {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		found = Path(r, name)
	}()
	<-done
	return found, r.msg
}

func writeExecutable(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// In a repository of its own: $NAME first, then bin/, then PATH; a missing
// program and an unlisted one fail with what to do.
func TestPath(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "hack"), 0o755); err != nil {
		t.Fatal(err)
	}
	list := "# program apt dnf brew go by-hand\nsystemd-analyze systemd systemd - - -\nkpt - - kpt - -\n"
	if err := os.WriteFile(filepath.Join(root, List), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "pkg", "x")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	onPath := t.TempDir()
	t.Setenv("PATH", onPath)
	t.Setenv("SYSTEMD_ANALYZE", "")
	t.Setenv("KPT", "")

	if found, failure := path(t, "systemd-analyze"); found != "" ||
		!strings.Contains(failure, "systemd-analyze is not installed") || !strings.Contains(failure, "make tools") ||
		!strings.Contains(failure, "$SYSTEMD_ANALYZE") {
		t.Errorf("missing: found %q, failure %q; want a failure naming make tools and $SYSTEMD_ANALYZE", found, failure)
	}
	if _, failure := path(t, "program"); !strings.Contains(failure, "program is not listed in hack/tools.txt") {
		t.Errorf("unlisted: failure %q, want it to name hack/tools.txt", failure)
	}
	if _, failure := path(t, "#"); !strings.Contains(failure, "not listed") {
		t.Errorf("a comment's word taken for a program: failure %q", failure)
	}

	writeExecutable(t, filepath.Join(onPath, "kpt"))
	if found, failure := path(t, "kpt"); found != filepath.Join(onPath, "kpt") {
		t.Errorf("on PATH: found %q (%s)", found, failure)
	}
	writeExecutable(t, filepath.Join(root, "bin", "kpt"))
	if found, failure := path(t, "kpt"); found != filepath.Join(root, "bin", "kpt") {
		t.Errorf("in bin/ and on PATH: found %q (%s), want bin/'s", found, failure)
	}
	t.Setenv("KPT", "/opt/kpt")
	if found, failure := path(t, "kpt"); found != "/opt/kpt" {
		t.Errorf("$KPT set: found %q (%s), want $KPT", found, failure)
	}
}

// Every row of the real list says how to get its program: a package, a
// module, or what else to do (hack/tools.sh reads six columns).
func TestListRows(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, List))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		rows++
		if len(fields) < 6 {
			t.Errorf("%s: %d columns, want program, apt, dnf, brew, go, else", fields[0], len(fields))
			continue
		}
		if strings.Join(fields[1:], "") == strings.Repeat("-", len(fields)-1) {
			t.Errorf("%s: no package, no module and nothing else to do", fields[0])
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if rows == 0 {
		t.Fatalf("%s lists no program", List)
	}
}
