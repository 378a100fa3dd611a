// End-to-end tests: the real clients (kustomize v5, kpt) run the built
// function binary on the examples, and the output must equal the example's
// checked-in expected output.
//
// The clients are found by internal/testtools ($KUSTOMIZE or $KPT, else
// bin/, else PATH); a missing one fails its test, telling to run make tools.
// Regenerate the expected outputs (after checking why they
// changed) with WRITE_GOLDEN_OUTPUT=1 go test ./examples/.
package examples_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/day1kmod/day1kmod/internal/testtools"
	"github.com/day1kmod/day1kmod/pkg/mcproducer"
)

var (
	repoRoot string
	// fnBinary is the function, built once for all tests.
	fnBinary string
	writing  = os.Getenv("WRITE_GOLDEN_OUTPUT") != ""
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		wd, err := os.Getwd()
		if err != nil {
			panic(err)
		}
		repoRoot = filepath.Dir(wd)
		tmp, err := os.MkdirTemp("", "day1kmod-e2e-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(tmp)
		fnBinary = filepath.Join(tmp, "day1kmod")
		cmd := exec.Command("go", "build", "-trimpath", "-o", fnBinary, ".")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			panic(err)
		}
		return m.Run()
	}())
}

func kustomize(t *testing.T) string { return testtools.Path(t, "kustomize") }

func kpt(t *testing.T) string { return testtools.Path(t, "kpt") }

// workspace is a temporary copy of the repository's layout: bin/day1kmod
// and the named examples under examples/, so relative exec paths resolve as
// they do in the repository.
func workspace(t *testing.T, examples ...string) string {
	t.Helper()
	ws := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ws, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, fnBinary, filepath.Join(ws, "bin", "day1kmod"), 0o755)
	for _, e := range examples {
		copyDir(t, filepath.Join(repoRoot, "examples", e), filepath.Join(ws, "examples", e))
	}
	return ws
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		copyFile(t, p, filepath.Join(to, rel), st.Mode().Perm())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readTree maps relative file paths under dir to their contents.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(devVersion(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	w, g := readTree(t, want), readTree(t, got)
	for f, wc := range w {
		gc, ok := g[f]
		switch {
		case !ok:
			t.Errorf("%s: missing from the output", f)
		case gc != wc:
			t.Errorf("%s differs:\n%s", f, lineDiff(wc, gc))
		}
	}
	for f := range g {
		if _, ok := w[f]; !ok {
			t.Errorf("%s: not expected in the output", f)
		}
	}
}

// syncTree makes dst hold exactly the files of src (for regeneration),
// with the generator's version written as a development build's.
func syncTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	copyDir(t, src, dst)
	for f, c := range readTree(t, dst) {
		if err := os.WriteFile(filepath.Join(dst, f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// versionLine is the annotation in which every MachineConfig names the
// generator's version: make build links in `git describe`, which changes
// with every commit. The expected outputs hold a development build's.
var versionLine = regexp.MustCompile(`(?m)^(\s*` + regexp.QuoteMeta(mcproducer.VersionAnnotation) + `: ).*$`)

func devVersion(b []byte) []byte { return versionLine.ReplaceAll(b, []byte("${1}dev")) }

func compareFile(t *testing.T, expectedPath string, got []byte) {
	t.Helper()
	got = devVersion(got)
	if writing {
		if err := os.WriteFile(expectedPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(expectedPath)
	if err != nil {
		t.Fatalf("%v (generate with WRITE_GOLDEN_OUTPUT=1)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("output differs from %s:\n%s", expectedPath, lineDiff(string(want), string(got)))
	}
}

func runIn(t *testing.T, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(old), []byte(new)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func kustomizeBuild(t *testing.T, ws, dir string, flags ...string) []byte {
	t.Helper()
	args := append([]string{"build"}, flags...)
	return runIn(t, ws, nil, kustomize(t), append(args, dir)...)
}

func TestKustomizeExecGenerator(t *testing.T) {
	k := kustomize(t)
	ws := workspace(t, "kustomize-exec")
	out := kustomizeBuild(t, ws, "examples/kustomize-exec", "--enable-alpha-plugins", "--enable-exec")
	compareFile(t, filepath.Join(repoRoot, "examples", "kustomize-exec", "expected.yaml"), out)
	if !bytes.Contains(out, []byte("kind: MachineConfig")) {
		t.Errorf("no MachineConfig in the output")
	}
	// Generated items must not be local-config, or kustomize drops them.
	if bytes.Contains(out, []byte("local-config")) {
		t.Errorf("local-config annotation in the output")
	}
	// What the README warns about: without --enable-exec the generator is
	// silently dropped.
	cmd := exec.Command(k, "build", "--enable-alpha-plugins", "examples/kustomize-exec")
	cmd.Dir = ws
	if o, _ := cmd.Output(); bytes.Contains(o, []byte("kind: MachineConfig")) {
		t.Errorf("kustomize ran the exec function without --enable-exec")
	}
}

// The container generator needs a container engine; here the same example
// runs with its image swapped for the exec binary, so the configuration and
// its expected output are still checked by kustomize.
func TestKustomizeContainerGenerator(t *testing.T) {
	ws := workspace(t, "kustomize-container")
	cfg := filepath.Join(ws, "examples", "kustomize-container", "day1kmod.yaml")
	replaceInFile(t, cfg, "container:\n        image: quay.io/acme/day1kmod:v0.1.0", "exec:\n        path: ../../bin/day1kmod")
	out := kustomizeBuild(t, ws, "examples/kustomize-container", "--enable-alpha-plugins", "--enable-exec")
	compareFile(t, filepath.Join(repoRoot, "examples", "kustomize-container", "expected.yaml"), out)
}

// Argo CD: the build options come from the example's argocd-cm; the binary
// sits where the repo-server image puts it (here: the workspace's bin).
func TestArgoCDApplication(t *testing.T) {
	ws := workspace(t, "argocd")
	cm, err := os.ReadFile(filepath.Join(repoRoot, "examples", "argocd", "argocd-cm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	for _, line := range strings.Split(string(cm), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "kustomize.buildOptions:"); ok {
			flags = strings.Fields(v)
		}
	}
	if strings.Join(flags, " ") != "--enable-alpha-plugins --enable-exec" {
		t.Fatalf("argocd-cm kustomize.buildOptions = %q", flags)
	}
	replaceInFile(t, filepath.Join(ws, "examples", "argocd", "app", "day1kmod.yaml"),
		"path: /usr/local/bin/day1kmod", "path: "+filepath.Join(ws, "bin", "day1kmod"))
	out := kustomizeBuild(t, ws, "examples/argocd/app", flags...)
	compareFile(t, filepath.Join(repoRoot, "examples", "argocd", "app", "expected.yaml"), out)
}

// Flux: the CI pre-render script's output equals the committed deploy/.
func TestFluxPrerender(t *testing.T) {
	k := kustomize(t)
	ws := workspace(t, "flux")
	if err := os.RemoveAll(filepath.Join(ws, "examples", "flux", "deploy")); err != nil {
		t.Fatal(err)
	}
	runIn(t, ws, []string{"KUSTOMIZE=" + k}, "sh", "examples/flux/prerender.sh")
	got := filepath.Join(ws, "examples", "flux", "deploy")
	want := filepath.Join(repoRoot, "examples", "flux", "deploy")
	if writing {
		syncTree(t, got, want)
		return
	}
	compareTrees(t, want, got)
}

// kpt fn eval with the Day1KernelModule file, then with the same fields as
// a ConfigMap from arguments: both give the expected package; a second eval
// changes nothing.
func TestKptEval(t *testing.T) {
	k := kpt(t)
	want := filepath.Join(repoRoot, "examples", "kpt-eval", "expected")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"fn-config", []string{"--fn-config", "examples/kpt-eval/day1kmod.yaml"}},
		{"configmap", []string{"--", "name=ice", "kernelModuleName=ice", "kernelModuleImage=quay.io/acme/ice-kmod",
			"machineConfigPool=worker", "inTreeModulesToRemove=ice,irdma"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := workspace(t, "kpt-eval")
			pkg := filepath.Join(ws, "examples", "kpt-eval", "package")
			args := append([]string{"fn", "eval", "examples/kpt-eval/package", "--exec", "bin/day1kmod"}, tc.args...)
			runIn(t, ws, nil, k, args...)
			if writing && tc.name == "fn-config" {
				syncTree(t, pkg, want)
				return
			}
			compareTrees(t, want, pkg)
			runIn(t, ws, nil, k, args...)
			compareTrees(t, want, pkg)
		})
	}
}

// kpt fn render with the example's Kptfile pipeline. The example is committed
// rendered: rendering it changes nothing; with the generated files removed,
// rendering brings them back byte for byte; rendering again changes nothing.
func TestKptRender(t *testing.T) {
	k := kpt(t)
	want := filepath.Join(repoRoot, "examples", "kpt-package")
	ws := workspace(t, "kpt-package")
	pkg := filepath.Join(ws, "examples", "kpt-package")
	render := func() { runIn(t, ws, nil, k, "fn", "render", "examples/kpt-package", "--allow-exec") }

	removed := 0
	for f, content := range readTree(t, pkg) {
		if strings.Contains(content, "day1kmod.dev/generated-from:") {
			if err := os.Remove(filepath.Join(pkg, f)); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed == 0 && !writing {
		t.Fatalf("the committed kpt-package holds no generated file: render it (WRITE_GOLDEN_OUTPUT=1)")
	}
	render()
	if writing {
		syncTree(t, pkg, want)
		return
	}
	compareTrees(t, want, pkg)
	render()
	compareTrees(t, want, pkg)

	// Deleting a Day1KernelModule removes what it generated.
	if err := os.Remove(filepath.Join(pkg, "modules", "mlx5.yaml")); err != nil {
		t.Fatal(err)
	}
	render()
	for f, content := range readTree(t, pkg) {
		if strings.Contains(content, "Day1KernelModule/mlx5") {
			t.Errorf("%s still generated from the deleted mlx5 module", f)
		}
	}
	if _, err := os.Stat(filepath.Join(pkg, "modules", "machineconfig_99-worker-ice.yaml")); err != nil {
		t.Errorf("ice's MachineConfig is gone: %v", err)
	}
}

// lineDiff shows the first lines that differ (long lines cut), enough to see
// what changed without printing whole MachineConfigs.
func lineDiff(want, got string) string {
	cut := func(s string) string {
		if len(s) > 160 {
			return s[:160] + "..."
		}
		return s
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			continue
		}
		fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, cut(wl), cut(gl))
		if shown++; shown == 8 {
			b.WriteString("  ...\n")
			break
		}
	}
	fmt.Fprintf(&b, "(%d lines wanted, %d got)", len(w), len(g))
	return b.String()
}

// Errors reach the user through the clients, and change nothing.
func TestClientsReportErrors(t *testing.T) {
	t.Run("kpt", func(t *testing.T) {
		k := kpt(t)
		ws := workspace(t, "kpt-eval")
		pkg := filepath.Join(ws, "examples", "kpt-eval", "package")
		cmd := exec.Command(k, "fn", "eval", "examples/kpt-eval/package", "--exec", "bin/day1kmod", "--",
			"kernelModuleName=ice", "machineConfigPool=worker", "kernelModuleImag=typo")
		cmd.Dir = ws
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("kpt fn eval succeeded with a bad config:\n%s", out)
		}
		for _, want := range []string{"data.kernelModuleImage", "data.kernelModuleImag:", "did you mean kernelModuleImage?"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("kpt output lacks %q:\n%s", want, out)
			}
		}
		compareTrees(t, filepath.Join(repoRoot, "examples", "kpt-eval", "package"), pkg)
	})
	t.Run("kustomize", func(t *testing.T) {
		k := kustomize(t)
		ws := workspace(t, "kustomize-exec")
		replaceInFile(t, filepath.Join(ws, "examples", "kustomize-exec", "day1kmod.yaml"),
			"kernelModuleName: ice", "kernelModuleName: \"ice; reboot\"")
		cmd := exec.Command(k, "build", "--enable-alpha-plugins", "--enable-exec", "examples/kustomize-exec")
		cmd.Dir = ws
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("kustomize build succeeded with a bad config:\n%s", out)
		}
		if !strings.Contains(string(out), "spec.kernelModuleName") || strings.Contains(string(out), "kind: MachineConfig") {
			t.Errorf("kustomize output:\n%s", out)
		}
	})
}
