package verify

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/day1kmod/day1kmod/pkg/machineconfig"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/day1kmod/day1kmod/pkg/nodescripts"
	vt "github.com/day1kmod/day1kmod/pkg/verify/verifytest"
)

// want is one row the report must hold: kernel × check (× module) with a
// status and, when set, words its reason must contain.
const (
	kEL96 = vt.EL96
	kEL94 = vt.EL94
	kRT   = vt.RT
	kARM  = vt.ARM64
)

type want struct {
	kernel, check, module string
	status                Status
	reason                string
}

// imageCase is an image (or a multi-platform index) stored under tags of
// one repository, the Target and Options verify gets, and the rows it must
// report. No row outside wants may fail.
type imageCase struct {
	name    string
	tags    map[string]v1.Image
	index   map[string]v1.ImageIndex // multi-platform, by tag
	image   string                   // the configured reference; "REPO" stands for the repository
	modules []string
	fw      string
	kernels []string
	opts    Options
	wants   []want
}

func ice(t *testing.T, k string) []vt.File {
	return vt.Under(k, vt.Module(t, "extra/ice.ko.xz", k, true, ""))
}

func imageCases(t *testing.T) []imageCase {
	pinned := vt.Image(t, ice(t, kEL96))
	digest, err := pinned.Digest()
	vt.Must(t, err)
	return []imageCase{{
		name: "el9 and rt kernels pass",
		tags: map[string]v1.Image{
			kEL96:                        vt.Image(t, ice(t, kEL96)),
			nodescripts.KernelTag(kRT):   vt.Image(t, vt.Under(kRT, vt.Module(t, "updates/drivers/net/ice.ko.zst", kRT, true, ""))),
			nodescripts.KernelTag(kEL94): vt.Image(t, vt.Under(kEL94, vt.Module(t, "ice.ko.gz", kEL94, true, ""), vt.Module(t, "libie.ko", kEL94, true, ""))),
		},
		image:   "REPO",
		kernels: []string{kEL96, kRT, kEL94},
		wants: []want{
			{kEL96, CheckImage, "", Pass, ":" + kEL96 + " (tag from the kernel version)"},
			{kRT, CheckImage, "", Pass, ":5.14.0-427.13.1.el9_4.x86_64_rt (tag from"},
			{kRT, CheckTree, "", Pass, "/opt/lib/modules/" + kRT + " holds 1 file, 1 module"},
			{kRT, CheckModule, "ice", Pass, "updates/drivers/net/ice.ko.zst"},
			{kRT, CheckVermagic, "ice", Pass, kRT + " SMP"},
			{kEL96, CheckVermagic, "ice", Pass, kEL96},
			{kEL94, CheckVermagic, "ice", Pass, kEL94},
			{kEL96, CheckSignature, "ice", Pass, "signed"},
			{kEL96, CheckDepends, "ice", Pass, "no dependencies"},
			{kEL96, CheckSymlinks, "", Pass, ""},
			{kEL96, CheckSpecial, "", Pass, ""},
			{kEL96, CheckSize, "", Pass, "of at most 2048.0 MiB"},
		},
	}, {
		name: "zstd layers, the module in the upper one",
		tags: map[string]v1.Image{kEL96: vt.ImageOf(t, compression.ZStd,
			vt.Under(kEL96, vt.File{Name: "README", Data: []byte("x")}), vt.Under(kEL96, vt.Module(t, "ice.ko", kEL96, true, "")))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckVermagic, "ice", Pass, kEL96}, {kEL96, CheckTree, "", Pass, "holds 2 files, 1 module"}},
	}, {
		name:    "no image for a kernel",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, ice(t, kEL96))},
		image:   "REPO:${KERNEL_FULL_VERSION}",
		kernels: []string{kEL96, kEL94},
		wants: []want{
			{kEL96, CheckVermagic, "ice", Pass, ""},
			{kEL94, CheckImage, "", Fail, "cannot read"},
		},
	}, {
		name:    "fixed tag without the kernel's tree",
		tags:    map[string]v1.Image{"1.0": vt.Image(t, ice(t, kEL94))},
		image:   "REPO:1.0",
		kernels: []string{kEL96, kEL94},
		wants: []want{
			{kEL96, CheckImage, "", Warn, "a fixed tag: every kernel gets this same image"},
			{kEL94, CheckImage, "", Warn, "a fixed tag"},
			{kEL96, CheckTree, "", Fail, "no /opt/lib/modules/" + kEL96 + " for this kernel (/opt/lib/modules has: " + kEL94 + ")"},
			{kEL94, CheckVermagic, "ice", Pass, ""},
		},
	}, {
		name:    "module missing",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96, vt.Module(t, "mlx5_core.ko", kEL96, true, "")))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckModule, "ice", Fail, "modules there: mlx5_core.ko"}},
	}, {
		name:    "module removed by a whiteout in an upper layer",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, ice(t, kEL96), []vt.File{vt.Whiteout("opt/lib/modules/" + kEL96 + "/extra/ice.ko.xz")})},
		image:   "REPO",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckModule, "ice", Fail, "modules there: none"}},
	}, {
		name:    "two files for one module, '-' and '_' alike",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96, vt.Module(t, "extra/ice_drv.ko", kEL96, true, ""), vt.Module(t, "updates/ice-drv.ko.xz", kEL96, true, "")))},
		image:   "REPO",
		modules: []string{"ice-drv"},
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckModule, "ice-drv", Warn, "2 files stand for ice-drv (extra/ice_drv.ko, updates/ice-drv.ko.xz)"}},
	}, {
		name:    "vermagic names another kernel",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96, vt.Module(t, "ice.ko", kEL94, true, "")))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckVermagic, "ice", Fail, `ice.ko is built for kernel "` + kEL94 + `", not ` + kEL96}},
	}, {
		name:    "not a kernel module",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96, vt.File{Name: "ice.ko", Data: []byte("#!/bin/sh\n")}))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckVermagic, "ice", Fail, "ice.ko: not an ELF object"}},
	}, {
		name:    "corrupt xz module",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96, vt.File{Name: "ice.ko.xz", Data: []byte("not xz")}))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckVermagic, "ice", Fail, "ice.ko.xz: not xz-compressed"}},
	}, {
		name: "dependencies in the tree and from the host (unknown host)",
		tags: map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96,
			vt.Module(t, "ice.ko", kEL96, true, "ice_aux,libie"), vt.Module(t, "ice-aux.ko.zst", kEL96, true, "")))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants: []want{
			{kEL96, CheckVermagic, "ice", Pass, ""},
			{kEL96, CheckDepends, "ice", Info, "needs libie from the host (not in the image; give --host-modules to check)"},
		},
	}, {
		name: "dependencies on the host's list",
		tags: map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96,
			vt.Module(t, "ice.ko", kEL96, true, "ice_aux,libie"), vt.Module(t, "ice-aux.ko.zst", kEL96, true, "")))},
		image:   "REPO",
		kernels: []string{kEL96},
		opts:    Options{HostModules: []string{"libie", "e1000e"}},
		wants:   []want{{kEL96, CheckDepends, "ice", Pass, "in the tree or on the host (libie)"}},
	}, {
		name:    "dependency nowhere",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96, vt.Module(t, "ice.ko", kEL96, true, "libie")))},
		image:   "REPO",
		kernels: []string{kEL96},
		opts:    Options{HostModules: []string{"e1000e"}},
		wants:   []want{{kEL96, CheckDepends, "ice", Fail, "needs libie, in neither the image's tree nor the host's modules"}},
	}, {
		name: "dependency in the tree built for another kernel",
		tags: map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96,
			vt.Module(t, "ice.ko", kEL96, true, "libie"), vt.Module(t, "libie.ko", kEL94, true, "")))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckVermagic, "ice", Fail, `dependency libie.ko is built for kernel "` + kEL94 + `"`}},
	}, {
		name:    "firmware directory missing",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, ice(t, kEL96))},
		image:   "REPO",
		fw:      "/firmware/ice",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckFirmware, "", Fail, "firmwarePath /firmware/ice is not in the image"}},
	}, {
		name:    "firmware directory present",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, ice(t, kEL96), []vt.File{vt.Dir("firmware"), vt.Dir("firmware/ice"), {Name: "firmware/ice/ice.pkg", Data: []byte("fw")}})},
		image:   "REPO",
		fw:      "/firmware/ice",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckFirmware, "", Pass, "/firmware/ice holds 1 file"}},
	}, {
		name:    "firmware path is a file",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, ice(t, kEL96), []vt.File{{Name: "firmware", Data: []byte("fw")}})},
		image:   "REPO",
		fw:      "/firmware",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckFirmware, "", Fail, "is not a directory in the image (a regular file)"}},
	}, {
		name: "symlinks leaving the tree",
		tags: map[string]v1.Image{kEL96: vt.Image(t, append(ice(t, kEL96),
			vt.Symlink("opt/lib/modules/"+kEL96+"/host", "/lib/modules/"+kEL96),
			vt.Symlink("opt/lib/modules/"+kEL96+"/extra/up", "../../"+kEL94),
			vt.Dir("opt/lib/modules/"+kEL96+"/weak-updates"),
			vt.Symlink("opt/lib/modules/"+kEL96+"/weak-updates/ice.ko.xz", "../extra/ice.ko.xz"),
		), []vt.File{vt.Dir("firmware"), vt.Symlink("firmware/x.bin", "../etc/shadow")})},
		image:   "REPO",
		fw:      "/firmware",
		kernels: []string{kEL96},
		wants: []want{
			{kEL96, CheckModule, "ice", Pass, "/extra/ice.ko.xz"},
			{kEL96, CheckVermagic, "ice", Pass, ""},
			{kEL96, CheckSymlinks, "", Fail, "/opt/lib/modules/" + kEL96 + "/extra/up -> ../../" + kEL94 + " (points outside the tree), " +
				"/opt/lib/modules/" + kEL96 + "/host -> /lib/modules/" + kEL96 + " (absolute: the tree moves on the node), /firmware/x.bin -> ../etc/shadow"},
		},
	}, {
		name: "a chain of symlinks, each inside, leading out: the node's rule (nodescripts.ChainLeaves)",
		tags: map[string]v1.Image{kEL96: vt.Image(t, append(ice(t, kEL96),
			vt.Dir("opt/lib/modules/"+kEL96+"/a"),
			vt.Symlink("opt/lib/modules/"+kEL96+"/a/up", ".."),
			vt.Symlink("opt/lib/modules/"+kEL96+"/b", "a/up/.."),
		))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants: []want{{kEL96, CheckSymlinks, "", Fail,
			"/opt/lib/modules/" + kEL96 + "/b -> a/up/.. (resolves outside the tree through another symlink)"}},
	}, {
		name: "device node and FIFO",
		tags: map[string]v1.Image{kEL96: vt.Image(t, append(ice(t, kEL96),
			vt.File{Name: "opt/lib/modules/" + kEL96 + "/null", Typ: tar.TypeChar},
			vt.File{Name: "opt/lib/modules/" + kEL96 + "/pipe", Typ: tar.TypeFifo},
		))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants: []want{{kEL96, CheckSpecial, "", Fail,
			"/opt/lib/modules/" + kEL96 + "/null (a character device), /opt/lib/modules/" + kEL96 + "/pipe (a FIFO)"}},
	}, {
		name:    "too large",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, append(ice(t, kEL96), vt.File{Name: "opt/lib/modules/" + kEL96 + "/blob", Size: 3 << 20}))},
		image:   "REPO",
		kernels: []string{kEL96},
		opts:    Options{MaxTreeBytes: 2 << 20},
		wants:   []want{{kEL96, CheckSize, "", Fail, "3.0 MiB, more than the node's bound of 2.0 MiB"}},
	}, {
		name:    "digest",
		tags:    map[string]v1.Image{"v2": pinned},
		image:   "REPO@" + digest.String(),
		kernels: []string{kEL96, kEL94},
		wants: []want{
			{kEL96, CheckImage, "", Warn, "a digest: every kernel gets this same image"},
			{kEL96, CheckVermagic, "ice", Pass, ""},
			{kEL94, CheckTree, "", Fail, "(/opt/lib/modules has: " + kEL96 + ")"},
		},
	}, {
		name:    "unsigned module (reported, not failed)",
		tags:    map[string]v1.Image{kEL96: vt.Image(t, vt.Under(kEL96, vt.Module(t, "ice.ko", kEL96, false, "")))},
		image:   "REPO",
		kernels: []string{kEL96},
		wants:   []want{{kEL96, CheckSignature, "ice", Warn, "not signed"}},
	}, {
		name: "multi-platform index: each kernel gets its architecture",
		index: map[string]v1.ImageIndex{"v1": mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: vt.Image(t, ice(t, kEL96)), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: vt.Image(t, ice(t, kARM)), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		)},
		image:   "REPO:v1",
		kernels: []string{kEL96, kARM},
		wants: []want{
			{kEL96, CheckVermagic, "ice", Pass, ""},
			{kARM, CheckVermagic, "ice", Pass, kARM},
		},
	}}
}

// sources stores the case's images in a registry on the loopback, an OCI
// layout and a docker-archive tarball, as `podman push`, `skopeo copy
// oci:` and `podman save` would, and returns the Source of each.
func sources(t *testing.T, host string, c imageCase, repo string) map[string]Source {
	t.Helper()
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	vt.Must(t, err)
	refs := map[name.Reference]v1.Image{}
	for tag, img := range c.tags {
		ref, err := name.ParseReference(host + "/" + repo + ":" + tag)
		vt.Must(t, err)
		vt.Must(t, remote.Write(ref, img))
		vt.Must(t, lp.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: ref.String()})))
		refs[ref] = img
	}
	for tag, idx := range c.index {
		ref, err := name.ParseReference(host + "/" + repo + ":" + tag)
		vt.Must(t, err)
		vt.Must(t, remote.WriteIndex(ref, idx))
		vt.Must(t, lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameAnnotation: ref.String()})))
	}
	out := map[string]Source{"registry": &Registry{Keychain: anonymous{}}, "layout": &Layout{Path: lp}}
	if len(c.index) == 0 {
		tb := filepath.Join(dir, "image.tar")
		vt.Must(t, tarball.MultiRefWriteToFile(tb, refs))
		src, err := Open(tb)
		vt.Must(t, err)
		out["tarball"] = src
	}
	return out
}

func TestVerify(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for i, c := range imageCases(t) {
		repo := fmt.Sprintf("acme/case%d", i)
		for kind, src := range sources(t, host, c, repo) {
			t.Run(c.name+"/"+kind, func(t *testing.T) {
				tg := Target{Name: "ice", Image: strings.ReplaceAll(c.image, "REPO", host+"/"+repo), Modules: c.modules, FirmwarePath: c.fw}
				if tg.Modules == nil {
					tg.Modules = []string{"ice"}
				}
				opts := c.opts
				opts.Kernels = c.kernels
				rep := Verify(context.Background(), src, tg, opts)
				checkReport(t, rep, c.wants)
			})
		}
	}
}

func checkReport(t *testing.T, rep Report, wants []want) {
	t.Helper()
	var table strings.Builder
	vt.Must(t, rep.WriteTable(&table))
	wantFail := false
	for _, w := range wants {
		wantFail = wantFail || w.status == Fail
		found := false
		for _, r := range rep.Rows {
			if r.Kernel == w.kernel && r.Check == w.check && r.Module == w.module {
				found = true
				if r.Status != w.status || !strings.Contains(r.Reason, w.reason) {
					t.Errorf("%s %s %s: got %s %q, want %s with %q", w.kernel, w.check, w.module, r.Status, r.Reason, w.status, w.reason)
				}
			}
		}
		if !found {
			t.Errorf("no row for %s %s %s", w.kernel, w.check, w.module)
		}
	}
	for _, r := range rep.Rows {
		if r.Status != Fail {
			continue
		}
		expected := false
		for _, w := range wants {
			expected = expected || (r.Kernel == w.kernel && r.Check == w.check && r.Module == w.module)
		}
		if !expected {
			t.Errorf("unexpected failure: %s %s %s: %s", r.Kernel, r.Check, r.Module, r.Reason)
		}
	}
	if rep.OK == wantFail {
		t.Errorf("report OK = %v, want %v", rep.OK, !wantFail)
	}
	if t.Failed() {
		t.Logf("report:\n%s", table.String())
	}
}

type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

// The reference verify checks for each kernel is the one the node pulls:
// the table the Go and shell rules are tested against.
func TestReferenceFollowsTheNodesTagRule(t *testing.T) {
	b, err := os.ReadFile("../nodescripts/testdata/kernel-tags.tsv")
	vt.Must(t, err)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("kernel-tags.tsv: bad line %q", line)
		}
		src := &recorder{}
		rep := Verify(context.Background(), src, Target{Name: "ice", Image: f[0], Modules: []string{"ice"}}, Options{Kernels: []string{f[1]}})
		if len(src.refs) != 1 || src.refs[0] != f[2] || rep.Rows[0].Reference != f[2] {
			t.Errorf("image %s, kernel %s: verify read %v (row says %s), the node pulls %s", f[0], f[1], src.refs, rep.Rows[0].Reference, f[2])
		}
		n++
	}
	if n == 0 {
		t.Fatal("kernel-tags.tsv holds no case")
	}
}

type recorder struct{ refs []string }

func (r *recorder) String() string { return "recorder" }
func (r *recorder) Image(_ context.Context, ref string, _ v1.Platform) (*Found, error) {
	r.refs = append(r.refs, ref)
	return nil, fmt.Errorf("not stored")
}

// A registry that wants credentials: refused without them, read with the
// auth file (the format of the cluster pull secret).
func TestRegistryAuthFile(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "robot" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/acme/ice:" + kEL96
	nref, err := name.ParseReference(ref)
	vt.Must(t, err)
	vt.Must(t, remote.Write(nref, vt.Image(t, ice(t, kEL96)), remote.WithAuth(&authn.Basic{Username: "robot", Password: "s3cret"})))

	tg := Target{Name: "ice", Image: host + "/acme/ice", Modules: []string{"ice"}}
	opts := Options{Kernels: []string{kEL96}}
	rep := Verify(context.Background(), &Registry{Keychain: anonymous{}}, tg, opts)
	checkReport(t, rep, []want{{kEL96, CheckImage, "", Fail, "401 Unauthorized"}})

	// A kernel without an image: the repository's tags are named.
	rep = Verify(context.Background(), &Registry{Keychain: anonymous{}, Transport: basicAuth{"robot", "s3cret"}}, tg, Options{Kernels: []string{kEL94}})
	checkReport(t, rep, []want{{kEL94, CheckImage, "", Fail, "MANIFEST_UNKNOWN: Unknown manifest; the repository's tags: " + kEL96}})

	auth := filepath.Join(t.TempDir(), "auth.json")
	secret := base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))
	vt.Must(t, os.WriteFile(auth, []byte(`{"auths":{"`+host+`":{"auth":"`+secret+`"}}}`), 0o600))
	kc, err := AuthFile(auth)
	vt.Must(t, err)
	rep = Verify(context.Background(), &Registry{Keychain: kc}, tg, opts)
	checkReport(t, rep, []want{{kEL96, CheckVermagic, "ice", Pass, ""}})
}

// A local archive's image is found under the name the node pulls, or under
// the same image name and tag from another registry (built and saved
// locally), never under another image name.
func TestArchiveImageNames(t *testing.T) {
	img := vt.Image(t, ice(t, kEL96))
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	vt.Must(t, err)
	refs := map[name.Reference]v1.Image{}
	for _, n := range []string{"localhost/ice-kmod:" + kEL96, "localhost/mlx5-kmod:" + kEL94} {
		vt.Must(t, lp.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: n})))
		ref, err := name.ParseReference(n)
		vt.Must(t, err)
		refs[ref] = img
	}
	tb := filepath.Join(dir, "image.tar")
	vt.Must(t, tarball.MultiRefWriteToFile(tb, refs))
	for _, path := range []string{string(lp), tb} {
		src, err := Open(path)
		vt.Must(t, err)
		opts := Options{Kernels: []string{kEL96}}
		rep := Verify(context.Background(), src, Target{Name: "ice", Image: "quay.io/acme/ice-kmod", Modules: []string{"ice"}}, opts)
		checkReport(t, rep, []want{{kEL96, CheckImage, "", Pass, "names it localhost/ice-kmod:" + kEL96}})
		rep = Verify(context.Background(), src, Target{Name: "mlx5", Image: "quay.io/acme/mlx5-kmod", Modules: []string{"mlx5_core"}}, opts)
		checkReport(t, rep, []want{{kEL96, CheckImage, "", Fail, "no image named quay.io/acme/mlx5-kmod:" + kEL96 + " in it (nor mlx5-kmod:" + kEL96 + " under another registry"}})
	}
}

// A large image reports its reading on Progress; a small one says nothing.
func TestProgress(t *testing.T) {
	src := memory{"quay.io/acme/ice:" + kEL96: vt.Image(t, append(ice(t, kEL96), vt.File{Name: "opt/blob", Size: 64 << 10}))}
	tg := Target{Name: "ice", Image: "quay.io/acme/ice", Modules: []string{"ice"}}
	var quiet strings.Builder
	checkReport(t, Verify(context.Background(), src, tg, Options{Kernels: []string{kEL96}, Progress: &quiet}), nil)
	if quiet.Len() != 0 {
		t.Errorf("progress for a small image: %q", quiet.String())
	}
	defer func(s int64) { progressStep = s }(progressStep)
	progressStep = 16 << 10
	var out strings.Builder
	checkReport(t, Verify(context.Background(), src, tg, Options{Kernels: []string{kEL96}, Progress: &out}), nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "verify: reading quay.io/acme/ice:"+kEL96+" (") ||
		!strings.Contains(lines[1], "KiB of files read") || !strings.Contains(lines[len(lines)-1], ": done, ") {
		t.Errorf("progress:\n%s", out.String())
	}
}

// memory is a Source of images by reference.
type memory map[string]v1.Image

func (m memory) String() string { return "memory" }
func (m memory) Image(_ context.Context, ref string, _ v1.Platform) (*Found, error) {
	if img, ok := m[ref]; ok {
		return &Found{Image: img}, nil
	}
	return nil, fmt.Errorf("no %s", ref)
}

// basicAuth sends credentials with every request (a Registry's Transport).
type basicAuth struct{ user, password string }

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return http.DefaultTransport.RoundTrip(r)
}

// The modules a Day1KernelModule loads, main one first, are the ones checked.
func TestTargetOfNamesEveryModule(t *testing.T) {
	tg := TargetOf(machineconfig.Config{Name: "mlx5", MachineConfigPool: "worker", KernelModuleImage: "quay.io/acme/mlx5", KernelModuleName: "mlx5_core",
		AdditionalModules: []machineconfig.ModuleSpec{{Name: "mlx5_ib"}, {Name: "irdma"}}})
	if strings.Join(tg.Modules, " ") != "mlx5_core mlx5_ib irdma" {
		t.Errorf("TargetOf modules %v", tg.Modules)
	}
}
