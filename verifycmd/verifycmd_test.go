package verifycmd

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
	vt "github.com/day1kmod/day1kmod/pkg/verify/verifytest"
)

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

// fixture: an image for the el9 and the rt kernel in a registry on the
// loopback and in an OCI layout, and a Day1KernelModule file naming it.
type fixture struct {
	host, repo, file, layout string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	f := fixture{host: strings.TrimPrefix(srv.URL, "http://"), repo: "acme/ice-kmod"}
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	vt.Must(t, err)
	f.layout = string(lp)
	for _, k := range []string{vt.EL96, vt.RT} {
		img := vt.Image(t, vt.Under(k, vt.Module(t, "extra/ice.ko.xz", k, true, "libie")),
			[]vt.File{vt.Dir("firmware"), {Name: "firmware/ice.pkg", Data: []byte("fw")}})
		ref, err := name.ParseReference(f.host + "/" + f.repo + ":" + nodescripts.KernelTag(k))
		vt.Must(t, err)
		vt.Must(t, remote.Write(ref, img))
		vt.Must(t, lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.String()})))
	}
	f.file = filepath.Join(dir, "day1kmod.yaml")
	vt.Must(t, os.WriteFile(f.file, []byte(`apiVersion: day1kmod.dev/v1alpha1
kind: Day1KernelModule
metadata:
  name: ice
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
  machineConfigPool: worker
  kernelModuleImage: `+f.host+"/"+f.repo+`
  kernelModuleName: ice
  firmwarePath: /firmware
`), 0o644))
	return f
}

func TestVerifyCommand(t *testing.T) {
	f := newFixture(t)
	kernels := filepath.Join(t.TempDir(), "kernels.txt")
	vt.Must(t, os.WriteFile(kernels, []byte("# from oc get nodes\n"+vt.EL96+"\n"+vt.RT+"\n"), 0o644))

	t.Run("registry, table", func(t *testing.T) {
		code, out, errs := run(t, "", "-f", f.file, "--kernel", vt.EL96, "--kernel", vt.RT)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		for _, s := range []string{
			"NAME  KERNEL", "ice   " + vt.RT + "  vermagic ice", f.repo + ":5.14.0-427.13.1.el9_4.x86_64_rt (tag from the kernel version)",
			"firmware       PASS    /firmware holds 1 file", "depends ice    INFO    needs libie from the host", "OK: the image serves every kernel checked (2).",
		} {
			if !strings.Contains(out, s) {
				t.Errorf("table lacks %q:\n%s", s, out)
			}
		}
	})
	t.Run("layout, json, kernels from a file", func(t *testing.T) {
		code, out, errs := run(t, "", "-f", f.file, "--kernels-from", kernels, "--from", f.layout, "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		var rep struct {
			OK   bool `json:"ok"`
			Rows []struct {
				Name, Kernel, Reference, Check, Module, Status, Reason string
			} `json:"rows"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		checks := map[string]bool{}
		for _, r := range rep.Rows {
			checks[r.Kernel+" "+r.Check+" "+r.Module+" "+r.Status] = true
		}
		if !rep.OK || !checks[vt.RT+" vermagic ice pass"] || !checks[vt.EL96+" tree  pass"] || !checks[vt.EL96+" signature ice pass"] {
			t.Errorf("json report: %s", out)
		}
	})
	t.Run("another kernel fails, from stdin, quick look", func(t *testing.T) {
		yaml, err := os.ReadFile(f.file)
		vt.Must(t, err)
		code, out, _ := run(t, string(yaml), "-f", "-", "--kernel", vt.EL94)
		if code != 1 || !strings.Contains(out, "cannot read") || !strings.Contains(out, "FAILED: 1 of 1 kernels fail a check") {
			t.Errorf("exit %d, want 1 and the image row failing:\n%s", code, out)
		}
		code, out, _ = run(t, "", "--image", f.host+"/"+f.repo+":"+vt.EL96, "--module", "ice", "--module", "ice_aux", "--kernel", vt.EL96, "--kernel", vt.EL94)
		if code != 1 || !strings.Contains(out, "module ice_aux") || !strings.Contains(out, "(/opt/lib/modules has: "+vt.EL96+")") {
			t.Errorf("exit %d, want 1, the missing module and tree:\n%s", code, out)
		}
	})
	t.Run("a kpt package directory: every Day1KernelModule in it", func(t *testing.T) {
		code, out, errs := run(t, "", "-f", "../examples/kpt-package", "--kernel", vt.EL96, "--from", f.layout, "-o", "json")
		if code != 1 || !strings.Contains(out, `"name": "ice"`) || !strings.Contains(out, `"name": "mlx5"`) ||
			!strings.Contains(out, "no image named quay.io/acme/mlx5-kmod:"+vt.EL96) {
			t.Errorf("exit %d, want 1 and rows for ice and mlx5 (not in the layout):\n%s%s", code, out, errs)
		}
	})
	t.Run("host modules decide the dependencies", func(t *testing.T) {
		host := filepath.Join(t.TempDir(), "modules.dep")
		vt.Must(t, os.WriteFile(host, []byte("kernel/drivers/net/libie.ko.xz:\nkernel/drivers/net/dummy.ko.xz:\n"), 0o644))
		code, out, _ := run(t, "", "-f", f.file, "--kernel", vt.EL96, "--host-modules", host, "--from", f.layout)
		if code != 0 || !strings.Contains(out, "depends ice    PASS    in the tree or on the host (libie)") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		vt.Must(t, os.WriteFile(host, []byte("dummy\n"), 0o644))
		code, out, _ = run(t, "", "-f", f.file, "--kernel", vt.EL96, "--host-modules", host, "--from", f.layout)
		if code != 1 || !strings.Contains(out, "depends ice    FAIL    needs libie, in neither the image's tree nor the host's modules") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

func TestUsageErrors(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "give -f day1kmod.yaml, or --image REF --module NAME"},
		{[]string{"-f", f.file}, "give the kernels to check"},
		{[]string{"-f", f.file, "--kernel", vt.EL96, "extra"}, `unexpected argument "extra"`},
		{[]string{"-f", f.file, "--kernel", vt.EL96, "-o", "yaml"}, `-o "yaml": want table or json`},
		{[]string{"-f", f.file, "--image", "quay.io/a/b", "--kernel", vt.EL96}, "exclude each other"},
		{[]string{"-f", f.file, "--name", "mlx5", "--kernel", vt.EL96}, `no Day1KernelModule named "mlx5"`},
		{[]string{"-f", "/nonexistent.yaml", "--kernel", vt.EL96}, "no such file"},
		{[]string{"--image", "quay.io/a/b", "--kernel", vt.EL96}, "--image needs --module NAME"},
		{[]string{"--image", "b", "--module", "ice", "--kernel", vt.EL96}, "kernelModuleImage"},
		{[]string{"--image", "quay.io/a/b", "--module", "ice;reboot", "--kernel", vt.EL96}, "kernelModuleName"},
		{[]string{"--image", "quay.io/a/b", "--module", "ice", "--kernel", "../etc"}, `--kernel "../etc" is not a kernel version`},
		{[]string{"--image", "quay.io/a/b", "--module", "ice", "--kernel", vt.EL96, "--from", f.file}, "not a docker-archive tarball"},
		{[]string{"--image", "quay.io/a/b", "--module", "ice", "--kernel", vt.EL96, "--from", f.layout, "--authfile", f.file}, "are for registries"},
		{[]string{"--image", "quay.io/a/b", "--module", "ice", "--kernel", vt.EL96, "--authfile", f.file}, "--authfile:"},
		{[]string{"--image", "quay.io/a/b", "--module", "ice", "--kernel", vt.EL96, "--platform", "linux"}, "--platform:"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-f", f.file, "-f", f.file, "--kernel", vt.EL96}, "another Day1KernelModule named ice is in " + f.file},
		{[]string{"-f", t.TempDir(), "--kernel", vt.EL96}, "no YAML file in it holds a Day1KernelModule"},
	} {
		code, out, errs := run(t, "", c.args...)
		if code != 2 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("verify %q: exit %d, stdout %q, stderr %q; want 2, no output, %q", c.args, code, out, errs, c.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	vt.Must(t, os.WriteFile(bad, []byte("apiVersion: day1kmod.dev/v1alpha1\nkind: Day1KernelModule\nmetadata: {name: ice}\nspec: {kernelModuleName: ice, kernelModuleImage: quay.io/acme/ice, machineConfigPool: worker, firmwarePath: fw}\n"), 0o644))
	code, out, errs := run(t, "", "-f", bad, "--kernel", vt.EL96)
	if code != 2 || out != "" || !strings.Contains(errs, `spec.firmwarePath: Invalid value: "fw"`) {
		t.Errorf("invalid file: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// --help documents every flag, with an example.
func TestHelp(t *testing.T) {
	code, out, _ := run(t, "", "--help")
	if code != 0 || out != Usage {
		t.Fatalf("--help: exit %d, output %q", code, out)
	}
	var o cliOptions
	o.flags().VisitAll(func(fl *flag.Flag) {
		dash := "--"
		if len(fl.Name) == 1 {
			dash = "-"
		}
		if !strings.Contains(Usage, "  "+dash+fl.Name+" ") {
			t.Errorf("--help does not document %s%s", dash, fl.Name)
		}
	})
	if !strings.Contains(Usage, "EXAMPLES\n  # ") || !strings.Contains(Usage, "day1kmod verify -f day1kmod.yaml --kernel ") {
		t.Error("--help has no example")
	}
}
