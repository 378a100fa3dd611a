package function

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// No container engine runs in CI, so the image is tested through what it
// holds: the binary built with the Dockerfile's own build command must be
// static and stripped, and must work with an empty environment as the
// image's non-root user.

const imageUID = "65532" // the conventional non-root uid of static images

func dockerfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDockerfile(t *testing.T) {
	df := dockerfile(t)
	for _, want := range []string{
		`CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"`,
		"\nFROM scratch\n", // nothing but the binary: no shell, no libc
		"USER " + imageUID + ":" + imageUID,
		`ENTRYPOINT ["/usr/local/bin/day1kmod"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if n := strings.Count(df, "\nFROM "); n < 2 {
		t.Errorf("Dockerfile has %d stages, want a multi-stage build", n)
	}
	// The final stage has no shell: exec-form ENTRYPOINT, no RUN after the last FROM.
	last := df[strings.LastIndex(df, "\nFROM "):]
	if strings.Contains(last, "\nRUN ") {
		t.Errorf("the final stage runs commands: it has no shell")
	}
}

// buildLikeDockerfile runs the Dockerfile's go build command, writing the
// binary to dir.
func buildLikeDockerfile(t *testing.T, dir string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*) -o /out/day1kmod \.$`).FindStringSubmatch(dockerfile(t))
	if m == nil {
		t.Fatal("no `RUN CGO_ENABLED=0 go build ... -o /out/day1kmod .` line in the Dockerfile")
	}
	bin := filepath.Join(dir, "day1kmod")
	cmd := exec.Command("sh", "-c", m[1]+` -o "$OUT" .`)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "OUT="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", m[1], err, out)
	}
	return bin
}

func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// World-readable, so the unprivileged user can run the binary.
	dir, err := os.MkdirTemp("", "day1kmod-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildLikeDockerfile(t, dir)

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: not statically linked", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("binary has a symbol table: not stripped (-s -w)")
	}
	if st, err := os.Stat(bin); err == nil {
		t.Logf("binary size: %.1f MB", float64(st.Size())/1e6)
	}

	// Run it as the image would: empty environment, non-root user, cwd /.
	var prefix []string
	switch {
	case os.Geteuid() != 0:
		t.Logf("running as the current unprivileged user %d", os.Geteuid())
	default:
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Logf("setpriv not found: running as root")
			break
		}
		prefix = []string{setpriv, "--reuid=" + imageUID, "--regid=" + imageUID, "--clear-groups", "--"}
	}
	runImage := func(stdin []byte, args ...string) (string, string, error) {
		argv := append(append(append([]string{}, prefix...), bin), args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = []string{}
		cmd.Dir = "/"
		cmd.Stdin = bytes.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	in, err := os.ReadFile(filepath.Join("testdata", "pool-generation", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := run(t, in)
	out, stderr, err := runImage(in)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if out != string(want) {
		t.Errorf("output of the image binary differs from the function's output in the test")
	}
	if len(prefix) > 0 {
		idOut, _, err := func() (string, string, error) {
			cmd := exec.Command(prefix[0], append(prefix[1:], "id", "-u")...)
			cmd.Env = []string{}
			o, err := cmd.Output()
			return string(o), "", err
		}()
		if err != nil || strings.TrimSpace(idOut) != imageUID {
			t.Errorf("setpriv did not switch to uid %s: %q %v", imageUID, idOut, err)
		}
	}
	help, _, err := runImage(nil, "--help")
	if err != nil || !strings.Contains(help, "Day1KernelModule") {
		t.Errorf("--help: %v\n%s", err, help)
	}
}
