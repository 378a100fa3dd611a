// The fleet view (examples/monitoring): the PrometheusRule decodes strictly
// into prometheus-operator's own types, its rules pass `promtool check rules`
// and the unit tests in prometheusrule_test.yaml (each alert fires on a
// failed unit, not on a working one), and the cluster-monitoring-config
// snippet selects exactly day1kmod's units.
//
// promtool (hack/tools.txt) is required: without it the test fails, telling
// to run make tools.
package examples_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/day1kmod/day1kmod/internal/testtools"
	"github.com/day1kmod/day1kmod/pkg/nodescripts"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The node lifecycle's names (the contract): the fetch unit and the status
// file of a Day1KernelModule named n.
func monitoringFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "examples", "monitoring", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeStrict decodes YAML into v, refusing fields v's type does not have.
func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("strict decoding into %T: %v", v, err)
	}
}

func TestMonitoringPrometheusRule(t *testing.T) {
	raw := monitoringFile(t, "prometheusrule.yaml")
	var pr monitoringv1.PrometheusRule
	decodeStrict(t, raw, &pr)
	if gvk := pr.GroupVersionKind(); gvk != monitoringv1.SchemeGroupVersion.WithKind(monitoringv1.PrometheusRuleKind) {
		t.Errorf("%v, want a %s of %s", gvk, monitoringv1.PrometheusRuleKind, monitoringv1.SchemeGroupVersion)
	}
	// The platform Prometheus, which scrapes node-exporter, evaluates rules there.
	if pr.Namespace != "openshift-monitoring" {
		t.Errorf("namespace %q, want openshift-monitoring", pr.Namespace)
	}

	// What each alert is about: the unit its expression selects, in the state.
	units := map[string]string{
		"Day1kmodLoadFailed":   nodescripts.LoadUnit("ice"),
		"Day1kmodPullFailed":   nodescripts.PullUnit("ice"),
		"Day1kmodFetchFailed":  nodescripts.FetchUnit("ice"),
		"Day1kmodFetchTooLong": nodescripts.FetchUnit("ice"),
	}
	others := []string{nodescripts.LoadUnit("ice"), nodescripts.PullUnit("ice"), nodescripts.FetchUnit("ice"), "kubelet.service"}
	selector := regexp.MustCompile(`name=~"([^"]+)"`)
	var alerts []string
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			t.Run(r.Alert, func(t *testing.T) {
				unit, ok := units[r.Alert]
				if !ok {
					t.Fatalf("alert %q is not one the test knows", r.Alert)
				}
				m := selector.FindStringSubmatch(r.Expr.String())
				if m == nil {
					t.Fatalf("expr selects no unit name: %s", r.Expr.String())
				}
				// PromQL anchors regexes; the YAML holds them escaped once more.
				re := regexp.MustCompile("^(?:" + strings.ReplaceAll(m[1], `\\`, `\`) + ")$")
				for _, u := range others {
					if got, want := re.MatchString(u), u == unit; got != want {
						t.Errorf("selector %s matches %s: %v, want %v", m[1], u, got, want)
					}
				}
				if r.For == nil || *r.For == "" {
					t.Errorf("no for: a single scrape would page")
				}
				if r.Labels["severity"] == "" {
					t.Errorf("no severity label")
				}
				for _, a := range []string{"summary", "description", "runbook"} {
					if r.Annotations[a] == "" {
						t.Errorf("no %s annotation", a)
					}
				}
				// The runbook line is the commands to run on the node.
				rb := r.Annotations["runbook"]
				for _, want := range []string{
					"oc debug node/{{ $labels.instance }} -- chroot /host cat " + nodescripts.StatusPath("{{ $labels.day1kmod }}"),
					"journalctl -b -u {{ $labels.name }}",
				} {
					if !strings.Contains(rb, want) {
						t.Errorf("runbook %q lacks %q", rb, want)
					}
				}
			})
		}
	}
	if want := []string{"Day1kmodFetchFailed", "Day1kmodFetchTooLong", "Day1kmodLoadFailed", "Day1kmodPullFailed"}; !slices.Equal(slices.Sorted(slices.Values(alerts)), want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}

	// promtool on the rule file prometheus-operator would write: spec as is.
	promtool := testtools.Path(t, "promtool")
	var obj struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	rules, err := yaml.JSONToYAML(obj.Spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(repoRoot, "examples", "monitoring", "prometheusrule_test.yaml"),
		filepath.Join(dir, "prometheusrule_test.yaml"), 0o644)
	out := runIn(t, dir, nil, promtool, "check", "rules", "rules.yaml")
	if !strings.Contains(string(out), "SUCCESS: 4 rules found") {
		t.Errorf("promtool check rules:\n%s", out)
	}
	runIn(t, dir, nil, promtool, "test", "rules", "prometheusrule_test.yaml")
}

func TestMonitoringClusterConfig(t *testing.T) {
	var cm corev1.ConfigMap
	decodeStrict(t, monitoringFile(t, "cluster-monitoring-config.yaml"), &cm)
	if cm.Name != "cluster-monitoring-config" || cm.Namespace != "openshift-monitoring" || cm.Kind != "ConfigMap" {
		t.Errorf("%s %s/%s, want ConfigMap openshift-monitoring/cluster-monitoring-config", cm.Kind, cm.Namespace, cm.Name)
	}
	// The cluster-monitoring-operator's fields (its types are not importable
	// here): nodeExporter.collectors.systemd.{enabled,units}.
	var cfg struct {
		NodeExporter struct {
			Collectors struct {
				Systemd struct {
					Enabled bool     `json:"enabled"`
					Units   []string `json:"units"`
				} `json:"systemd"`
			} `json:"collectors"`
		} `json:"nodeExporter"`
	}
	decodeStrict(t, []byte(cm.Data["config.yaml"]), &cfg)
	sd := cfg.NodeExporter.Collectors.Systemd
	if !sd.Enabled {
		t.Errorf("systemd collector not enabled")
	}
	// node-exporter includes a unit when the whole name matches one pattern.
	re := regexp.MustCompile("^(?:" + strings.Join(sd.Units, "|") + ")$")
	for _, n := range []string{"ice", "mlx5-core"} {
		for _, u := range []string{nodescripts.LoadUnit(n), nodescripts.PullUnit(n), nodescripts.FetchUnit(n)} {
			if !re.MatchString(u) {
				t.Errorf("units %q do not select %s", sd.Units, u)
			}
		}
	}
	for _, u := range []string{"kubelet.service", "NetworkManager.service", "machine-config-daemon-firstboot.service"} {
		if re.MatchString(u) {
			t.Errorf("units %q select %s, not day1kmod's (5 series per unit and node)", sd.Units, u)
		}
	}
}
