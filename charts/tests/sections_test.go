package charttests

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// examplePolicy is the policy of the repository's example
// (examples/policy.yaml): subject and retention, no inactivity or orphans.
const examplePolicy = "../../examples/policy.yaml"

// allSections is a policy with every job's section.
const allSections = `subject: {table: users, key: id, requested_at: deleted_at, grace: 14d}
retention:
  - {table: activity_log, column: created_at, keep: 90d}
inactivity:
  last_active: last_active_at
  after: 365d
  warn: 30d
  then: request-deletion
  notify: {webhook: {url: "https://app.internal/hooks/lethe", secret_env: LETHE_WEBHOOK_SECRET}}
orphans:
  organizations:
    - {table: organizations, key: id, members: {table: memberships, match: org_id}, created_at: created_at, min_age: 1d}
export:
  request: {column: export_requested_at}
  to: "s3://exports/archives/"
  expire: 7d
  notify: {webhook: {url: "https://app.internal/hooks/lethe", secret_env: LETHE_WEBHOOK_SECRET}}
`

// policyFile writes a policy to a file for --set-file (--set-string would
// split it at its commas).
func policyFile(t *testing.T, policy string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// allJobs are the arguments for a policy with every section and every job
// enabled.
func allJobs(t *testing.T) []string {
	return []string{"--set-file", "policy=" + policyFile(t, allSections), "--set", "jobs.inactivity.enabled=true,jobs.orphans.enabled=true,jobs.export.enabled=true"}
}

// Issue 10, defect 17: with the chart's defaults, a policy without
// inactivity: or orphans: (the example's) scheduled those jobs, which exit
// 2 every week and page on-call. Only the jobs whose section the policy has
// are scheduled.
func TestOnlyJobsThePolicyCoversAreScheduled(t *testing.T) {
	r := render(t, "r", "--set-file", "policy="+examplePolicy)
	if got := keys(r.CronJobs); !slices.Equal(got, []string{"r-lethe-purge", "r-lethe-retention"}) {
		t.Errorf("default values with the example policy: CronJobs %v, want purge and retention only", got)
	}

	// Enabled by hand, a job whose section is absent is still not scheduled,
	// and the notes say why.
	args := []string{"--set-file", "policy=" + examplePolicy, "--set", "jobs.inactivity.enabled=true,jobs.orphans.enabled=true,jobs.export.enabled=true"}
	r = render(t, "r", args...)
	if got := keys(r.CronJobs); !slices.Equal(got, []string{"r-lethe-purge", "r-lethe-retention"}) {
		t.Errorf("inactivity and orphans enabled, policy without their sections: CronJobs %v", got)
	}
	notes := renderNotes(t, "r", args...)
	for _, want := range []string{
		"inactivity: not scheduled: the policy has no inactivity: section",
		"orphans: not scheduled: the policy has no orphans: section",
		"export: not scheduled: the policy has no export: section",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("NOTES lack %q:\n%s", want, notes)
		}
	}

	// A policy with every section and every job enabled: five CronJobs. As
	// a YAML map under policy: too.
	if got := keys(render(t, "r", allJobs(t)...).CronJobs); len(got) != 5 {
		t.Errorf("every section, every job enabled: CronJobs %v", got)
	}
	path := filepath.Join(t.TempDir(), "values.yaml")
	indented := "policy:\n  " + strings.ReplaceAll(strings.TrimSpace(allSections), "\n", "\n  ") + "\n"
	if err := os.WriteFile(path, []byte(indented), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := keys(render(t, "r", "-f", path).CronJobs); !slices.Equal(got, []string{"r-lethe-purge", "r-lethe-retention"}) {
		t.Errorf("policy as a map, default values: CronJobs %v, want the default purge and retention", got)
	}

	// A retention-only policy schedules no purge.
	r = render(t, "r", "--set-file", "policy="+policyFile(t, "retention: [{table: t, column: c, keep: 1d}]\n"))
	if got := keys(r.CronJobs); !slices.Equal(got, []string{"r-lethe-retention"}) {
		t.Errorf("retention-only policy: CronJobs %v", got)
	}
}

// With no policy every job would exit 2 on each run: nothing is scheduled,
// and the notes say so.
func TestNoPolicyNoJobs(t *testing.T) {
	r := render(t, "r")
	if len(r.CronJobs) != 0 {
		t.Errorf("no policy, yet CronJobs %v", keys(r.CronJobs))
	}
	notes := renderNotes(t, "r")
	if !strings.Contains(notes, "WARNING: no policy is set") || !strings.Contains(notes, "purge: not scheduled: no policy is set") {
		t.Errorf("NOTES do not say that nothing is scheduled without a policy:\n%s", notes)
	}
}

// A policy the chart cannot parse fails the render, naming the value.
func TestUnparseablePolicyFails(t *testing.T) {
	_, stderr, ok := helmTemplateResult(t, chartDir, "r", "--set-string", "policy=subject: [unclosed")
	if ok || !strings.Contains(stderr, "policy is not a YAML map") {
		t.Errorf("helm template accepted a policy that is not YAML, or did not say so: %s", stderr)
	}
}

// The production values documented in docs/operations.md and in the
// README's Install section, with the example policy, lint and schedule
// exactly the jobs the policy covers.
func TestDocumentedProductionValues(t *testing.T) {
	for _, doc := range []struct{ file, pattern string }{
		{"../../docs/operations.md", "(?s)`values-prod.yaml`:\n\n```yaml\n(.*?)```"},
		{"../../README.md", "(?s)  ```yaml\n  # values-prod.yaml\n(.*?)  ```"},
	} {
		t.Run(filepath.Base(doc.file), func(t *testing.T) {
			text, err := os.ReadFile(doc.file)
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(doc.pattern).FindSubmatch(text)
			if m == nil {
				t.Fatalf("%s has no values-prod.yaml block", doc.file)
			}
			values := regexp.MustCompile("(?m)^  ").ReplaceAll(m[1], nil)
			if strings.HasSuffix(doc.file, "operations.md") {
				values = m[1]
			}
			checkProductionValues(t, values)
		})
	}
}

func checkProductionValues(t *testing.T, values []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values-prod.yaml")
	if err := os.WriteFile(path, values, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", path, "--set-file", "policy=" + examplePolicy}
	out, stderr, ok := run(t, helmPath(t), append([]string{"lint", chartDir, "--strict", "--kube-version", kubeVersion}, args...)...)
	if !ok {
		t.Fatalf("helm lint with the documented values failed:\n%s%s", out, stderr)
	}
	r := render(t, "lethe", args...)
	if got := keys(r.CronJobs); !slices.Equal(got, []string{"lethe-purge", "lethe-retention"}) {
		t.Errorf("documented values with the example policy: CronJobs %v, want purge and retention", got)
	}
	for name, cj := range r.CronJobs {
		checkCronJob(t, cj, strings.TrimPrefix(name, "lethe-"))
	}
}
