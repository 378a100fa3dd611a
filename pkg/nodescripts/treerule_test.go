package nodescripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type treeEntryCase struct {
	rel    string
	kind   EntryKind
	link   string
	copied bool
}

// treeEntryCases reads testdata/tree-entries.tsv: what the node's
// extraction copies, for the Go rule (verify) and the shell one alike.
func treeEntryCases(t *testing.T) []treeEntryCase {
	t.Helper()
	b, err := os.ReadFile("testdata/tree-entries.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var cases []treeEntryCase
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 || (f[3] != "copied" && f[3] != "refused") {
			t.Fatalf("tree-entries.tsv line %d: want path, kind, target, copied|refused separated by tabs: %q", i+1, line)
		}
		link := f[2]
		if link == "-" {
			link = ""
		}
		cases = append(cases, treeEntryCase{f[0], EntryKind(f[1]), link, f[3] == "copied"})
	}
	if len(cases) < 10 {
		t.Fatal("tree-entries.tsv holds too few cases")
	}
	return cases
}

func TestTreeEntryRefused(t *testing.T) {
	for _, c := range treeEntryCases(t) {
		why := TreeEntryRefused(c.rel, c.kind, c.link)
		if (why == "") != c.copied {
			t.Errorf("%s (%s -> %q): Go rule says %q, the table copied=%v", c.rel, c.kind, c.link, why, c.copied)
		}
	}
}

// The node's tree_entry_refused (lib.sh, run by bash) agrees with the
// table, and says it in the Go rule's words.
func TestShellTreeEntryRefusedAgrees(t *testing.T) {
	lib, err := filepath.Abs("lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	cases := treeEntryCases(t)
	args := []string{"-c", `set -euo pipefail; . "$1"; shift; while (($#)); do printf '%s\n' "$(tree_entry_refused "$1" "$2" "$3")"; shift 3; done`, "bash", lib}
	for _, c := range cases {
		args = append(args, c.rel, string(c.kind), c.link)
	}
	out, err := exec.Command("bash", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d answers for %d cases:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		if (lines[i] == "") != c.copied {
			t.Errorf("%s (%s -> %q): tree_entry_refused says %q, the table copied=%v", c.rel, c.kind, c.link, lines[i], c.copied)
		}
		if want := TreeEntryRefused(c.rel, c.kind, c.link); lines[i] != want {
			t.Errorf("%s (%s -> %q): shell says %q, Go %q", c.rel, c.kind, c.link, lines[i], want)
		}
	}
}

// lib.sh's bound on a tree is the Go one that verify checks.
func TestShellMaxTreeBytes(t *testing.T) {
	out, err := exec.Command("bash", "-c", `. ./lib.sh; printf '%s' "$MAX_TREE_BYTES"`).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != strconv.FormatInt(MaxTreeBytes, 10) {
		t.Errorf("lib.sh MAX_TREE_BYTES=%s, nodescripts.MaxTreeBytes=%d", got, MaxTreeBytes)
	}
}

// Chains of links that each stay inside: the Go rule (verify) and the
// node's realpath check (scan_tree over a real tree) agree.
func TestChainLeavesAgrees(t *testing.T) {
	lib, err := filepath.Abs("lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		links map[string]string
		rel   string
		out   bool
	}{
		{map[string]string{"a/up": "..", "b": "a/up/.."}, "b", true},
		{map[string]string{"a/up": "..", "b": "a/up/extra"}, "b", false},
		{map[string]string{"d": "sub/deeper", "x": "d/../../.."}, "x", true},
		{map[string]string{"d": "sub/deeper", "x": "d/../x2"}, "x", false},
		{map[string]string{"l1": "l2", "l2": "l1"}, "l1", true},
		{map[string]string{"weak/ice.ko": "../extra/ice.ko"}, "weak/ice.ko", false},
	} {
		got := ChainLeaves(c.links, c.rel)
		if got != c.out {
			t.Errorf("ChainLeaves(%v, %s) = %v, want %v", c.links, c.rel, got, c.out)
		}
		dir := t.TempDir()
		root := filepath.Join(dir, "tree")
		for _, d := range []string{"a", "sub/deeper", "extra", "weak"} {
			must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		}
		for p, target := range c.links {
			must(t, os.Symlink(target, filepath.Join(root, p)))
		}
		out, err := exec.Command("bash", "-c", `set -euo pipefail; . "$1"; scan_tree "$2" /t; printf '%s\n' "${SCAN_REFUSED[@]}"`, "bash", lib, root).CombinedOutput()
		if err != nil {
			t.Fatalf("scan_tree: %v\n%s", err, out)
		}
		shell := strings.Contains(string(out), "/t/"+c.rel+" -> ")
		if shell != c.out {
			t.Errorf("%v: scan_tree refuses %s: %v, want %v (%s)", c.links, c.rel, shell, c.out, out)
		}
	}
}
