package mddoc

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The repository's root, seen from this package.
const root = "../.."

// maxREADMELines keeps README.md a front page: what day1kmod is, the quick
// start, one example per way of using it, how it works on a node, the map of
// docs/. Everything else belongs in docs/.
const maxREADMELines = 200

// Every relative link of README.md and docs/ names a file that exists and,
// with an #anchor, a heading of it.
func TestLinks(t *testing.T) {
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %v: want README.md and docs/*.md", files)
	}
	links := 0
	for _, f := range files {
		problems, err := CheckLinks(root, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Error(p)
		}
		b, _ := os.ReadFile(f)
		links += len(Links(string(b)))
	}
	if links == 0 {
		t.Fatal("no relative link found: the link parser is broken")
	}
	// The examples' own READMEs link into docs/ too.
	more, err := filepath.Glob(filepath.Join(root, "examples", "*", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range more {
		problems, err := CheckLinks(root, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Error(p)
		}
	}
}

func TestREADMEIsShort(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > maxREADMELines {
		t.Errorf("README.md has %d lines, at most %d: move detail into docs/ and link to it", n, maxREADMELines)
	}
}

// Every docs/ page is reachable from the index, docs/README.md.
func TestDocsIndexListsEveryPage(t *testing.T) {
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(root, "docs", "README.md")
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range Links(string(b)) {
		file, _, _ := strings.Cut(l.Target, "#")
		listed[filepath.Join(root, "docs", filepath.FromSlash(file))] = true
	}
	for _, f := range files[1:] {
		if f != index && !listed[f] {
			t.Errorf("%s is not linked from %s", f, index)
		}
	}
}

// GitHub's anchors, as github.com renders these headings.
func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"Reboots per node":                          "reboots-per-node",
		"KMM's BootModuleConfig":                    "kmms-bootmoduleconfig",
		"kustomize (exec generator)":                "kustomize-exec-generator",
		"`day1kmod verify`: check the image":        "day1kmod-verify-check-the-image",
		"The status file, `/run/day1kmod/N.status`": "the-status-file-runday1kmodnstatus",
		"What the scripts refuse and why":           "what-the-scripts-refuse-and-why",
		"max_kubelet_delay and rebootPolicy":        "max_kubelet_delay-and-rebootpolicy",
		"[Go API](go-api.md) reference":             "go-api-reference",
		"Binaries and image — release":              "binaries-and-image--release",
	} {
		if got := Slug(heading); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestAnchorsNumberRepeatedHeadings(t *testing.T) {
	md := "# A\n## Use\n```\n## Not a heading\n```\n### Use\n<a id=\"here\"></a>\n"
	want := map[string]bool{"a": true, "use": true, "use-1": true, "here": true}
	if got := Anchors(md); !reflect.DeepEqual(got, want) {
		t.Errorf("Anchors = %v, want %v", got, want)
	}
}

// The checker finds what it is for: a missing file, a missing anchor, an
// anchor into a file that is not Markdown; it ignores code and web links.
func TestCheckLinksFindsBrokenLinks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/a.md", "# A page\n## Here\n")
	write("x.txt", "")
	write("README.md", strings.Join([]string{
		"[ok](docs/a.md) [ok](docs/a.md#here) [ok](#top) [ok](docs/) [web](https://example.com/x)",
		"`[code](nowhere.md)`",
		"```",
		"[fenced](nowhere.md)",
		"```",
		"# Top",
		"[gone](docs/b.md)",
		"[bad anchor](docs/a.md#there)",
		"[not md](x.txt#l1)",
		"[outside](../elsewhere.md)",
	}, "\n"))
	problems, err := CheckLinks(dir, filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`:7: link "docs/b.md"`, `:8: link "docs/a.md#there"`, `:9: link "x.txt#l1"`, `:10: link "../elsewhere.md"`}
	if len(problems) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d", strings.Join(problems, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.Contains(problems[i], w) {
			t.Errorf("problem %d: %s, want %s", i, problems[i], w)
		}
	}
}

func TestBlock(t *testing.T) {
	dir := t.TempDir()
	for name, s := range map[string]string{
		"README.md":      "# R\n" + Marker("a") + "\n```yaml\nkey: 1\n```\n",
		"docs/b.md":      Marker("b") + "\n```\nb\n```\n" + Marker("a") + "\n```\nagain\n```\n",
		"docs/c/d.md":    Marker("d") + "\n```\nd\n```\n",
		"docs/notes.txt": Marker("e") + "\n```\ne\n```\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, file, err := Block(dir, "b"); err != nil || got != "b\n" || filepath.Base(file) != "b.md" {
		t.Errorf("Block(b) = %q, %s, %v", got, file, err)
	}
	if _, _, err := Block(dir, "a"); err == nil || !strings.Contains(err.Error(), "several files") {
		t.Errorf("a block name in two files: %v", err)
	}
	if got, _, err := Block(dir, "d"); err != nil || got != "d\n" {
		t.Errorf("a block in a sub-directory of docs/: %q, %v", got, err)
	}
	if _, _, err := Block(dir, "e"); err == nil {
		t.Error("a block outside Markdown files: no error")
	}
	if _, _, err := Block(dir, "c"); err == nil {
		t.Error("a missing block: no error")
	}
}
