package nodescripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type tagCase struct{ image, kernel, want string }

// kernelTagCases reads testdata/kernel-tags.tsv: the one table of what the
// node pulls for a kernel, which the Go rule and the shell rule must both give.
func kernelTagCases(t *testing.T) []tagCase {
	t.Helper()
	b, err := os.ReadFile("testdata/kernel-tags.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var cases []tagCase
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("kernel-tags.tsv line %d: want 3 tab-separated fields, got %d", i+1, len(f))
		}
		cases = append(cases, tagCase{f[0], f[1], f[2]})
	}
	if len(cases) == 0 {
		t.Fatal("kernel-tags.tsv holds no case")
	}
	return cases
}

func TestResolveImage(t *testing.T) {
	for _, c := range kernelTagCases(t) {
		if got := ResolveImage(c.image, c.kernel); got != c.want {
			t.Errorf("ResolveImage(%q, %q) = %q, want %q", c.image, c.kernel, got, c.want)
		}
	}
}

// The node's resolve_image (lib.sh, run by bash) agrees with ResolveImage.
func TestShellResolveImageAgrees(t *testing.T) {
	lib, err := filepath.Abs("lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kernelTagCases(t) {
		cmd := exec.Command("bash", "-c", `set -euo pipefail; . "$1"; CFG_IMAGE="$2"; KVER="$3"; resolve_image`, "bash", lib, c.image, c.kernel)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("resolve_image %q %q: %v\n%s", c.image, c.kernel, err, out)
		}
		if got := strings.TrimSuffix(string(out), "\n"); got != c.want {
			t.Errorf("shell resolve_image(%q, %q) = %q, want %q", c.image, c.kernel, got, c.want)
		}
	}
}
