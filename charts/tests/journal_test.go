package charttests

import (
	"os"
	"strings"
	"testing"
)

func envOf(r rendered, cronJob string) map[string]string {
	out := map[string]string{}
	cj := r.CronJobs[cronJob]
	if cj == nil {
		return out
	}
	for _, e := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e.Value
	}
	return out
}

// TestJournalDefaultsToThePolicysBucket: issue 14. With an object store in
// the policy, the chart configures the erasure journal in its bucket; with
// none there is no journal (lethe check warns); journal.location wins.
func TestJournalDefaultsToThePolicysBucket(t *testing.T) {
	raw, err := os.ReadFile(examplePolicy)
	if err != nil {
		t.Fatal(err)
	}
	s3Policy := strings.Replace(string(raw), "file:///var/lib/app/uploads/{key}/", "s3://app-uploads/users/{key}/", 1)
	cases := []struct {
		name      string
		args      []string
		want, ret string
	}{
		{"file objects only", []string{"--set-file", "policy=" + examplePolicy}, "", ""},
		{"an s3 location", []string{"--set-file", "policy=" + policyFile(t, s3Policy)}, "s3://app-uploads/lethe-journal/", "400d"},
		{"explicit", []string{"--set-file", "policy=" + examplePolicy, "--set", "journal.location=s3://audit/erasures/,journal.retention=0"},
			"s3://audit/erasures/", "0"},
		{"turned off", []string{"--set-file", "policy=" + policyFile(t, s3Policy), "--set", "journal.location=none"}, "", ""},
	}
	for _, c := range cases {
		env := envOf(render(t, "r", c.args...), "r-lethe-purge")
		if env["LETHE_JOURNAL"] != c.want || env["LETHE_JOURNAL_RETENTION"] != c.ret {
			t.Errorf("%s: LETHE_JOURNAL %q, LETHE_JOURNAL_RETENTION %q; want %q, %q", c.name, env["LETHE_JOURNAL"], env["LETHE_JOURNAL_RETENTION"], c.want, c.ret)
		}
	}
	if _, _, ok := helmTemplateResult(t, chartDir, "r", "--set-file", "policy="+examplePolicy, "--set", "journal.location=relative/dir"); ok {
		t.Errorf("a journal location that is not s3:// or file:/// was accepted")
	}
	r := render(t, "r", "--api-versions", "monitoring.coreos.com/v1", "--set", "prometheusRule.journalLagThresholdSeconds=3600")
	for _, g := range r.PrometheusRules["r-lethe"].Spec.Groups {
		for _, rule := range g.Rules {
			if rule.Alert == "LetheJournalLagging" && !strings.Contains(exprOf(rule), "vector(3600)") {
				t.Errorf("LetheJournalLagging lacks the threshold from the values:\n%s", exprOf(rule))
			}
		}
	}
}
