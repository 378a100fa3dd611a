// The function's image: `make image` builds the manifest list with podman,
// offline, and the test reads back what a user pulling it would get: per
// platform the image config (`podman image inspect`), the files it holds
// (the list pushed to an OCI layout, read with go-containerregistry), the
// binary static for its architecture and, for the host's, runnable with an
// empty environment as the image's user. Containers are not run: what the
// image holds is checked, not a container of it.
//
// podman, file and shellcheck come from make tools (hack/tools.txt): a
// missing or broken one fails the test.
package examples_test

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/day1kmod/day1kmod/function"
	"github.com/day1kmod/day1kmod/internal/testtools"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

const (
	imageUser       = "65532:65532" // the conventional non-root uid of static images
	imageEntrypoint = "/usr/local/bin/day1kmod"
	imageMaxBytes   = 20_000_000
	// A version no real build has, to see -X reach the binary.
	imageTestVersion = "v0.0.0-image-test"
	// SOURCE_DATE_EPOCH for make image: 2023-11-14T22:13:20Z.
	imageTestEpoch   = "1700000000"
	imageTestCreated = "2023-11-14T22:13:20Z"
)

var imagePlatforms = []string{"linux/amd64", "linux/arm64"}

// elfMachine and fileArch: what an ELF binary of each architecture says.
var (
	elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	fileArch   = map[string]string{"amd64": "x86-64", "arm64": "ARM aarch64"}
)

// podmanFlags gives podman a private storage under dir (vfs: no mounts
// left behind), so the test neither sees nor leaves images elsewhere.
func podmanFlags(dir string) []string {
	return []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "vfs", "--events-backend", "none"}
}

// podman finds a podman that answers `podman info`, or fails the test.
func podman(t *testing.T, flags []string) func(args ...string) []byte {
	t.Helper()
	p := testtools.Path(t, "podman")
	if out, err := exec.Command(p, append(flags, "info")...).CombinedOutput(); err != nil {
		t.Fatalf("podman does not work, so the image cannot be built: podman info: %v\n%s", err, out)
	}
	return func(args ...string) []byte {
		t.Helper()
		return runIn(t, "", nil, p, append(append([]string{}, flags...), args...)...)
	}
}

func TestImage(t *testing.T) {
	// World-readable, so the image's user can run the extracted binary.
	dir, err := os.MkdirTemp("", "day1kmod-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	flags := podmanFlags(dir)
	pod := podman(t, flags)
	const image = "localhost/day1kmod:image-test"
	bin := filepath.Join(dir, "bin")
	// make build and make image, into the test's own bin directory.
	makeImage := func(targets ...string) {
		runIn(t, repoRoot, nil, "make", append(targets, "--no-print-directory", "BIN="+bin, "IMAGE="+image,
			"VERSION="+imageTestVersion, "SOURCE_DATE_EPOCH="+imageTestEpoch, "PODMAN_FLAGS="+strings.Join(flags, " "))...)
	}
	makeImage("build", "image")

	// The manifest list holds exactly the platforms.
	listed := func() (platforms, digests []string) {
		var list struct {
			Manifests []struct {
				Digest   string
				Platform struct{ OS, Architecture string }
			}
		}
		if err := json.Unmarshal(pod("manifest", "inspect", image), &list); err != nil {
			t.Fatal(err)
		}
		for _, m := range list.Manifests {
			platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
			digests = append(digests, m.Digest)
		}
		slices.Sort(platforms)
		return platforms, digests
	}
	got, digests := listed()
	if !slices.Equal(got, imagePlatforms) {
		t.Fatalf("manifest list platforms = %v, want %v", got, imagePlatforms)
	}
	// Dated by SOURCE_DATE_EPOCH: the same binaries give the same images.
	makeImage("image")
	if _, again := listed(); !slices.Equal(again, digests) {
		t.Errorf("a rebuild from the same binaries changed the digests: %v, then %v", digests, again)
	}

	// What a registry would serve: the list pushed, read back by platform.
	oci := filepath.Join(dir, "oci")
	pod("manifest", "push", "--all", "--quiet", image, "oci:"+oci)
	idx := pushedList(t, oci)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		platform := desc.Platform.OS + "/" + desc.Platform.Architecture
		t.Run(strings.ReplaceAll(platform, "/", "-"), func(t *testing.T) {
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cfgName, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			checkImageConfig(t, pod("image", "inspect", cfgName.Hex), desc.Platform)
			b := imageBinary(t, img)
			exe := filepath.Join(dir, strings.ReplaceAll(platform, "/", "-")+"-day1kmod")
			if err := os.WriteFile(exe, b, 0o755); err != nil {
				t.Fatal(err)
			}
			checkStatic(t, exe, desc.Platform.Architecture)
			if desc.Platform.Architecture != runtime.GOARCH || runtime.GOOS != "linux" {
				return
			}
			// The host's: the very binary make build made, and it runs as the image would.
			built, err := os.ReadFile(filepath.Join(bin, "day1kmod"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(built, b) {
				t.Errorf("the %s image's binary is not the one make build made", platform)
			}
			checkRunsLikeImage(t, exe)
		})
	}
}

// pushedList is the manifest list inside an OCI layout written by
// `podman manifest push --all LIST oci:DIR`: the layout's index names it.
func pushedList(t *testing.T, dir string) v1.ImageIndex {
	t.Helper()
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || !m.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("OCI layout index: want one manifest list, got %+v", m.Manifests)
	}
	idx, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// checkImageConfig: `podman image inspect` of one platform's image.
func checkImageConfig(t *testing.T, inspect []byte, want *v1.Platform) {
	t.Helper()
	var imgs []struct {
		Os, Architecture string
		Created          time.Time
		Size             int64
		Config           struct {
			User       string
			Entrypoint []string
			Cmd        []string
			Env        []string
			WorkingDir string
		}
	}
	if err := json.Unmarshal(inspect, &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("podman image inspect: %v\n%s", err, inspect)
	}
	c := imgs[0]
	if c.Os != want.OS || c.Architecture != want.Architecture {
		t.Errorf("image platform %s/%s, want %s/%s", c.Os, c.Architecture, want.OS, want.Architecture)
	}
	if c.Config.User != imageUser {
		t.Errorf("user %q, want %q", c.Config.User, imageUser)
	}
	if !slices.Equal(c.Config.Entrypoint, []string{imageEntrypoint}) || len(c.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [%s] and no cmd", c.Config.Entrypoint, c.Config.Cmd, imageEntrypoint)
	}
	// The engines put a default PATH into every image; nothing else may be
	// needed (the binary is run with an empty environment below).
	for _, e := range c.Config.Env {
		if !strings.HasPrefix(e, "PATH=") {
			t.Errorf("image sets %q: the function needs no environment", e)
		}
	}
	if got := c.Created.UTC().Format(time.RFC3339); got != imageTestCreated {
		t.Errorf("created %s, want %s (SOURCE_DATE_EPOCH)", got, imageTestCreated)
	}
	if c.Size <= 0 || c.Size > imageMaxBytes {
		t.Errorf("image size %d bytes, want at most %d", c.Size, imageMaxBytes)
	}
	t.Logf("%s/%s: %.1f MB, user %s, entrypoint %v", c.Os, c.Architecture, float64(c.Size)/1e6, c.Config.User, c.Config.Entrypoint)
}

// imageBinary returns the image's only file, the function binary: no
// shell, no libc, no certificates, nothing else.
func imageBinary(t *testing.T, img v1.Image) []byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var bin []byte
	var files []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		name := strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")
		files = append(files, name)
		if name == strings.TrimPrefix(imageEntrypoint, "/") && h.Typeflag == tar.TypeReg {
			if h.Mode&0o005 != 0o005 {
				t.Errorf("%s mode %o: others (uid 65532) cannot run it", name, h.Mode)
			}
			if bin, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(files) != 1 || bin == nil {
		t.Fatalf("image files %v, want only the regular file %s", files, imageEntrypoint)
	}
	return bin
}

// checkStatic: an ELF for arch with no interpreter, no shared library, no
// symbol table, no cgo, the version linked in; and `file` agrees.
func checkStatic(t *testing.T, exe, arch string) {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elfMachine[arch] {
		t.Errorf("ELF machine %v, want %v", f.Machine, elfMachine[arch])
	}
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
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["GOARCH"] != arch || settings["-trimpath"] != "true" {
		t.Errorf("build settings %v: want CGO_ENABLED=0, GOARCH=%s, -trimpath", settings, arch)
	}
	// -trimpath keeps -ldflags out of the build settings: look for the
	// value itself, which the linker puts in only if -X named a variable.
	if b, err := os.ReadFile(exe); err != nil || !bytes.Contains(b, []byte(imageTestVersion)) {
		t.Errorf("the binary does not hold the version %s given to make (-X machineconfig.Version): %v", imageTestVersion, err)
	}
	out, err := exec.Command(testtools.Path(t, "file"), "-b", exe).Output()
	if err != nil {
		t.Fatalf("file -b %s: %v", exe, err)
	}
	for _, want := range []string{"ELF 64-bit", fileArch[arch], "statically linked", "stripped"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("file says %q, lacking %q", out, want)
		}
	}
}

// checkRunsLikeImage runs the binary as the container would: empty
// environment, cwd /, as uid 65532 (through setpriv when root).
func checkRunsLikeImage(t *testing.T, exe string) {
	t.Helper()
	var prefix []string
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatalf("setpriv not found: cannot run the binary as %s", imageUser)
		}
		uid, gid, _ := strings.Cut(imageUser, ":")
		prefix = []string{setpriv, "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--"}
	}
	run := func(stdin []byte, args ...string) (string, string, error) {
		argv := append(append([]string{}, prefix...), args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = []string{}
		cmd.Dir = "/"
		cmd.Stdin = bytes.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), err
	}
	if len(prefix) > 0 {
		if id, _, err := run(nil, "id", "-u"); err != nil || strings.TrimSpace(id) != strings.Split(imageUser, ":")[0] {
			t.Fatalf("setpriv did not switch to the image's user: %q %v", id, err)
		}
	}
	if help, stderr, err := run(nil, exe, "--help"); err != nil || !strings.Contains(help, "Day1KernelModule") {
		t.Errorf("env -i %s --help: %v\n%s%s", exe, err, help, stderr)
	}
	in, err := os.ReadFile(filepath.Join(repoRoot, "function", "testdata", "pool-generation", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want, wantErr bytes.Buffer
	if code := function.Main(nil, bytes.NewReader(in), &want, &wantErr); code != 0 {
		t.Fatalf("function.Main: exit %d\n%s", code, wantErr.String())
	}
	out, stderr, err := run(in, exe)
	if err != nil {
		t.Fatalf("the image binary on a ResourceList: %v\n%s", err, stderr)
	}
	// Their one difference: the version each was built as.
	if o, w := string(devVersion([]byte(out))), string(devVersion(want.Bytes())); o != w || !strings.Contains(out, "kind: MachineConfig") {
		t.Errorf("the image binary's output differs from the function's:\n%s", lineDiff(w, o))
	}
	if v, _, err := run(nil, exe, "--version"); err != nil || v != "day1kmod "+imageTestVersion+"\n" {
		t.Errorf("env -i %s --version = %q, %v; want the version make was given, %s", exe, v, err, imageTestVersion)
	}
}

// The Dockerfile (multi-stage, where a registry is reachable) and
// Dockerfile.prebuilt (make image, offline) make the same image: the same
// final stage but for where the binary comes from, and the same build
// command, make build's.
func TestDockerfilesAgree(t *testing.T) {
	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		var ins []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				ins = append(ins, l)
			}
		}
		return ins
	}
	// finalStage: the instructions after the last FROM, without ARG lines
	// (they set no image content) and with COPY's source cut.
	finalStage := func(ins []string) []string {
		last := 0
		for i, l := range ins {
			if strings.HasPrefix(l, "FROM ") {
				last = i
			}
		}
		var out []string
		for _, l := range ins[last:] {
			switch {
			case strings.HasPrefix(l, "ARG "):
			case strings.HasPrefix(l, "RUN "):
				t.Errorf("final stage runs %q: it has no shell", l)
			case strings.HasPrefix(l, "COPY "):
				f := strings.Fields(l)
				out = append(out, "COPY "+f[len(f)-1])
			default:
				out = append(out, l)
			}
		}
		return out
	}
	multi, prebuilt := read("Dockerfile"), read("Dockerfile.prebuilt")
	want := []string{"FROM scratch", "COPY " + imageEntrypoint, "USER " + imageUser, `ENTRYPOINT ["` + imageEntrypoint + `"]`}
	for name, ins := range map[string][]string{"Dockerfile": multi, "Dockerfile.prebuilt": prebuilt} {
		if got := finalStage(ins); !slices.Equal(got, want) {
			t.Errorf("%s final stage %q, want %q", name, got, want)
		}
	}
	if n := strings.Count(strings.Join(multi, "\n"), "FROM "); n != 2 {
		t.Errorf("Dockerfile has %d stages, want a builder and the image", n)
	}
	// Both binaries come from make build: in the builder stage, for the
	// target platform; for make image, bin/platforms/OS-ARCH/ is built with
	// the same go_build as bin/day1kmod (compared byte for byte by TestImage).
	joined := strings.Join(multi, "\n")
	for _, re := range []string{
		`(?m)^FROM --platform=\$BUILDPLATFORM \S+ AS build$`,
		`(?m)^RUN make build GOOS=\$\{TARGETOS\} GOARCH=\$\{TARGETARCH\} VERSION=\$\{VERSION\} BIN=/out$`,
		`(?m)^COPY --from=build /out/day1kmod ` + imageEntrypoint + `$`,
	} {
		if !regexp.MustCompile(re).MatchString(joined) {
			t.Errorf("Dockerfile lacks a line matching %s", re)
		}
	}
	if !slices.Contains(prebuilt, "COPY ${TARGETOS}-${TARGETARCH}/day1kmod "+imageEntrypoint) {
		t.Errorf("Dockerfile.prebuilt does not copy the platform's binary from bin/platforms/OS-ARCH/")
	}
}

// The scripts users run (make image's, the examples'): shellcheck clean.
func TestScriptsShellcheck(t *testing.T) {
	sc := testtools.Path(t, "shellcheck")
	var scripts []string
	for _, pattern := range []string{"hack/image/*.sh", "examples/*/*.sh"} {
		m, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, m...)
	}
	if len(scripts) < 3 {
		t.Fatalf("scripts %v: expected make image's and the examples'", scripts)
	}
	if out, err := exec.Command(sc, append([]string{"-S", "warning", "-f", "gcc"}, scripts...)...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
