package charttests

import (
	"strconv"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
)

// TestParallelJobs renders parallelism: retention and orphans as Indexed
// Jobs whose pods know their shard count, purge and inactivity as plain
// parallel pods.
func TestParallelJobs(t *testing.T) {
	t.Parallel()
	r := render(t, "lethe", "--set-file", "policy="+examplePolicy)
	ret := r.CronJobs["lethe-retention"].Spec.JobTemplate.Spec
	checkIndexed(t, "default retention", ret, 1, 2)
	purge := r.CronJobs["lethe-purge"].Spec.JobTemplate.Spec
	if purge.CompletionMode != nil || purge.Parallelism != nil || purge.BackoffLimit == nil || *purge.BackoffLimit != 2 {
		t.Errorf("default purge: completionMode %v parallelism %v backoffLimit %v, want a plain Job with backoffLimit 2",
			purge.CompletionMode, purge.Parallelism, purge.BackoffLimit)
	}

	r = render(t, "lethe", "--set-file", "policy="+examplePolicy,
		"--set", "jobs.retention.parallelism=4,jobs.retention.backoffLimit=1,jobs.purge.parallelism=3")
	ret = r.CronJobs["lethe-retention"].Spec.JobTemplate.Spec
	checkIndexed(t, "retention", ret, 4, 1)
	purge = r.CronJobs["lethe-purge"].Spec.JobTemplate.Spec
	if purge.Parallelism == nil || *purge.Parallelism != 3 || purge.Completions != nil || purge.CompletionMode != nil {
		t.Errorf("purge: parallelism %v completions %v completionMode %v, want 3 pods sharing one queue",
			purge.Parallelism, purge.Completions, purge.CompletionMode)
	}
	purgeEnv := envMap(purge.Template.Spec.Containers[0].Env)
	if _, ok := purgeEnv["LETHE_SHARDS"]; ok {
		t.Error("purge has LETHE_SHARDS: it shares work through SKIP LOCKED, not shards")
	}
	// Each pod paces at its part of the job's share of database time.
	if got := purgeEnv["LETHE_PODS"].Value; got != "3" {
		t.Errorf("purge: LETHE_PODS %q, want 3", got)
	}
	if got := envMap(ret.Template.Spec.Containers[0].Env)["LETHE_PODS"].Value; got != "4" {
		t.Errorf("retention: LETHE_PODS %q, want 4", got)
	}
	one := render(t, "lethe", "--set-file", "policy="+examplePolicy)
	if _, ok := envMap(one.CronJobs["lethe-purge"].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env)["LETHE_PODS"]; ok {
		t.Error("one pod: LETHE_PODS set")
	}
}

func checkIndexed(t *testing.T, name string, spec batchv1.JobSpec, n int32, perIndex int32) {
	t.Helper()
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("%s: completionMode %v, want Indexed", name, spec.CompletionMode)
	}
	if spec.Completions == nil || *spec.Completions != n || spec.Parallelism == nil || *spec.Parallelism != n {
		t.Errorf("%s: completions %v parallelism %v, want %d", name, spec.Completions, spec.Parallelism, n)
	}
	if spec.BackoffLimitPerIndex == nil || *spec.BackoffLimitPerIndex != perIndex || spec.BackoffLimit != nil {
		t.Errorf("%s: backoffLimitPerIndex %v backoffLimit %v, want %d per index and no job-wide limit",
			name, spec.BackoffLimitPerIndex, spec.BackoffLimit, perIndex)
	}
	env := envMap(spec.Template.Spec.Containers[0].Env)
	if got := env["LETHE_SHARDS"].Value; got != strconv.Itoa(int(n)) {
		t.Errorf("%s: LETHE_SHARDS %q, want %d", name, got, n)
	}
}
