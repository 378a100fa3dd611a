package function

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

// Golden ResourceList tests: testdata/<case>/input.yaml is a ResourceList;
// _expected.yaml is the function's stdout and _expected.status its exit
// status and stderr. In _expected.yaml the node scripts inside generated
// MachineConfigs are elided (the config file is text, shown as output):
// the scripts belong to the producer's tests, and a script edit must not
// churn every golden file here. Regenerate them with
//
//	WRITE_GOLDEN_OUTPUT=1 go test ./function/ -run TestGolden
//
// (or -update); never edit them by hand.
var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

func run(t *testing.T, in []byte) (stdout []byte, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(nil, bytes.NewReader(in), &o, &e)
	return o.Bytes(), e.String(), code
}

func TestGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	writing := *update || os.Getenv("WRITE_GOLDEN_OUTPUT") != ""
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join("testdata", e.Name())
		if _, err := os.Stat(filepath.Join(dir, "input.yaml")); err != nil {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			out, stderr, code := run(t, in)
			status := fmt.Sprintf("exit status %d\n%s", code, stderr)
			golden(t, filepath.Join(dir, "_expected.yaml"), elideScripts(t, out), writing)
			golden(t, filepath.Join(dir, "_expected.status"), []byte(status), writing)

			// Deterministic: the same input gives the same bytes.
			if out2, _, _ := run(t, in); !bytes.Equal(out, out2) {
				t.Errorf("second run on the same input gave different output")
			}
			wantErrCase := strings.HasPrefix(e.Name(), "error-")
			if wantErrCase != (code != 0) {
				t.Errorf("exit status %d; cases named error-* must fail, others must succeed", code)
			}
			if code != 0 {
				// No item added or changed on error.
				if a, b := itemsText(t, in), itemsText(t, out); a != b {
					t.Errorf("items changed although the function failed:\n--- input\n%s\n--- output\n%s", a, b)
				}
				if !strings.Contains(string(out), "severity: error") {
					t.Errorf("no error result in the output")
				}
				return
			}
			// Idempotent: a run on its own output changes nothing.
			// Byte-identical, except that results saying what an earlier
			// run removed are not repeated.
			again, _, code2 := run(t, out)
			if code2 != 0 {
				t.Errorf("re-run on own output: exit status %d", code2)
			}
			if bytes.Contains(out, []byte("message: 'removed ")) {
				if a, b := itemsText(t, out), itemsText(t, again); a != b {
					t.Errorf("re-run on own output changed the items:\n--- first\n%s\n--- second\n%s", a, b)
				}
			} else if !bytes.Equal(out, again) {
				t.Errorf("re-run on own output is not byte-identical:\n%s", again)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d golden cases found", n)
	}
}

func golden(t *testing.T, path string, got []byte, writing bool) {
	t.Helper()
	if writing {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with WRITE_GOLDEN_OUTPUT=1)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (regenerate with WRITE_GOLDEN_OUTPUT=1 after checking why):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// itemsText is the items of a ResourceList as text, comments included.
func itemsText(t *testing.T, rl []byte) string {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(rl), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(n.MustString())
		b.WriteString("---\n")
	}
	return b.String()
}

var dataURLRE = regexp.MustCompile(`(?m)^(\s*source: )data:;base64,(\S+)$`)

// elideScripts replaces each base64 data URL of a generated file (the node
// scripts) by a marker; the config file is text in the output ("data:,"),
// shown as it is.
func elideScripts(t *testing.T, out []byte) []byte {
	t.Helper()
	return dataURLRE.ReplaceAllFunc(out, func(line []byte) []byte {
		m := dataURLRE.FindSubmatch(line)
		raw, err := base64.StdEncoding.DecodeString(string(m[2]))
		if err != nil {
			t.Fatalf("bad base64 in %q: %v", line, err)
		}
		if bytes.HasPrefix(raw, []byte("# day1kmod configuration")) {
			t.Fatalf("the config file is base64: it must be readable text (data:,)")
		}
		return append(m[1], "<node script elided>"...)
	})
}
