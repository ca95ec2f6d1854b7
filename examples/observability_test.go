package examples

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// promtool returns promtool's path; without it the test fails in CI
// (make deps installs Debian's prometheus) and skips by hand.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not installed (make deps installs Debian's prometheus)")
		}
		t.Skip("promtool not installed: make deps")
	}
	return p
}

func TestAlertingRules(t *testing.T) {
	p := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/lvsd-rules.yml"},
		{"test", "rules", "prometheus/lvsd-rules-test.yml"},
	} {
		out, err := exec.Command(p, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// documented lists the families docs/metrics.md names in its tables.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `lvsd_") {
			out[strings.Trim(strings.Fields(line)[1], "`")] = true
		}
	}
	return out
}

func TestDashboardAndRulesUseDocumentedMetrics(t *testing.T) {
	exprs, err := DashboardExprs("grafana/lvsd-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := RuleExprs("prometheus/lvsd-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(exprs) < 10 || len(rules) != 5 {
		t.Fatalf("%d dashboard queries, %d rules", len(exprs), len(rules))
	}
	doc := documented(t)
	if len(doc) < 30 {
		t.Fatalf("docs/metrics.md lists %d families", len(doc))
	}
	for _, n := range MetricFamilies(append(exprs, rules...)) {
		if !doc[n] {
			t.Errorf("%s is used but not in docs/metrics.md", n)
		}
	}
}
