package charttests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

// rulesFile is the one rules file: loaded by the chart, tested here.
const rulesFile = "../lethe/files/lethe.rules.yaml"

func TestRulesCheck(t *testing.T) {
	promtool := promtoolPath(t)
	out, stderr, ok := run(t, promtool, "check", "rules", rulesFile)
	if !ok {
		t.Fatalf("promtool check rules failed:\n%s%s", out, stderr)
	}
}

func TestRulesUnitTests(t *testing.T) {
	promtool := promtoolPath(t)
	out, stderr, ok := run(t, promtool, "test", "rules", valuesFile("lethe.rules.test.yaml"))
	if !ok {
		t.Fatalf("promtool test rules failed:\n%s%s", out, stderr)
	}
	t.Log(out)
}

// TestPrometheusRuleFromChart renders the PrometheusRule and checks that it
// carries the rules of the file, rewritten only where documented, and that
// promtool accepts what the chart produced.
func TestPrometheusRuleFromChart(t *testing.T) {
	promtool := promtoolPath(t)

	auto := render(t, "r", "--api-versions", "monitoring.coreos.com/v1")
	if len(auto.PrometheusRules) != 1 {
		t.Fatalf("prometheusRule.enabled auto with monitoring.coreos.com/v1 served: got %d PrometheusRules", len(auto.PrometheusRules))
	}
	off := render(t, "r", "--api-versions", "monitoring.coreos.com/v1", "--set", "prometheusRule.enabled=false")
	if len(off.PrometheusRules) != 0 {
		t.Errorf("prometheusRule.enabled=false still rendered a PrometheusRule")
	}

	r := render(t, "prod", "-f", valuesFile("values-all.yaml"))
	pr := r.PrometheusRules["prod-lethe"]
	if pr == nil {
		t.Fatalf("no PrometheusRule prod-lethe: %v", keys(r.PrometheusRules))
	}
	if pr.Labels["release"] != "kube-prometheus-stack" || pr.Labels["app.kubernetes.io/instance"] != "prod" {
		t.Errorf("PrometheusRule labels %v", pr.Labels)
	}

	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(raw, &file); err != nil {
		t.Fatalf("rules file does not decode as a PrometheusRule spec: %v", err)
	}
	alerts := map[string]monitoringv1.Rule{}
	for _, g := range pr.Spec.Groups {
		for _, rule := range g.Rules {
			alerts[rule.Alert] = rule
		}
	}
	for _, g := range file.Groups {
		for _, want := range g.Rules {
			got, ok := alerts[want.Alert]
			if !ok {
				t.Errorf("alert %s of the rules file is missing from the PrometheusRule", want.Alert)
				continue
			}
			if got.For == nil || want.For == nil || *got.For != *want.For ||
				fmt.Sprint(got.Labels) != fmt.Sprint(want.Labels) || fmt.Sprint(got.Annotations) != fmt.Sprint(want.Annotations) {
				t.Errorf("alert %s differs from the rules file beyond its expression", want.Alert)
			}
			expr := exprOf(got)
			if strings.Contains(expr, `namespace=~".*"`) || strings.Contains(expr, `".*lethe.*"`) {
				t.Errorf("alert %s still has the file's default matchers:\n%s", want.Alert, expr)
			}
			if strings.Contains(exprOf(want), "kube_") && !strings.Contains(expr, `"prod-lethe-(purge|retention|inactivity|orphans|replay|export)"`) {
				t.Errorf("alert %s does not select this release's CronJobs:\n%s", want.Alert, expr)
			}
		}
	}
	for _, want := range []string{
		`vector(7200), "lethe_job", "purge"`,
		`vector(93600), "lethe_job", "retention"`,
		`vector(691200), "lethe_job", "inactivity"`,
		`vector(691200), "lethe_job", "orphans"`,
	} {
		if !strings.Contains(exprOf(alerts["LetheJobNotSucceeded"]), want) {
			t.Errorf("LetheJobNotSucceeded lacks the window %s from the values", want)
		}
	}
	if !strings.Contains(exprOf(alerts["LethePurgeOverdue"]), "vector(86400)") {
		t.Errorf("LethePurgeOverdue lacks the threshold from the values:\n%s", exprOf(alerts["LethePurgeOverdue"]))
	}
	if !strings.Contains(exprOf(alerts["LetheRetentionOverdue"]), "vector(43200)") {
		t.Errorf("LetheRetentionOverdue lacks the threshold from the values:\n%s", exprOf(alerts["LetheRetentionOverdue"]))
	}
	// monthLimitSeconds less purge's window: 2000000 - 7200.
	if !strings.Contains(exprOf(alerts["LethePurgeMonthAtRisk"]), "vector(1992800)") {
		t.Errorf("LethePurgeMonthAtRisk lacks the month less purge's window from the values:\n%s", exprOf(alerts["LethePurgeMonthAtRisk"]))
	}
	// monthLimitSeconds less export's window: 2000000 - 3600.
	if !strings.Contains(exprOf(alerts["LetheExportOverdue"]), "vector(1996400)") {
		t.Errorf("LetheExportOverdue lacks the month less export's window from the values:\n%s", exprOf(alerts["LetheExportOverdue"]))
	}
	if !strings.Contains(exprOf(alerts["LetheJobFailed"]), `namespace="gdpr"`) {
		t.Errorf("LetheJobFailed is not restricted to the release namespace")
	}

	spec, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rendered.rules.yaml")
	if err := os.WriteFile(path, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, ok := run(t, promtool, "check", "rules", path)
	if !ok {
		t.Fatalf("promtool rejects the rules the chart rendered:\n%s%s\n%s", out, stderr, spec)
	}
}

func exprOf(r monitoringv1.Rule) string {
	return r.Expr.String()
}
