// Package metrics turns the report of a lethe run into Prometheus metrics:
// [PushHook] pushes them to a Pushgateway at the end of every run (the
// one-shot `lethe --job ...` in a CronJob), and [Registry] keeps them in
// process for `lethe schedule`, which serves them on /metrics.
//
// Both publish the same metric names (see [NameLastSuccess] and the other
// Name constants); the alert rules in charts/lethe/files/lethe.rules.yaml
// and the dashboards depend on them. On a Pushgateway the job's name is the
// grouping label lethe_job and the push job is "lethe", so a series reads
// lethe_job_exit_code{job="lethe",lethe_job="purge"}; in a Registry the
// same series carries lethe_job itself.
//
// Dry runs publish nothing: a dry run changes nothing, so it must neither
// refresh the last success that the dead man's switch watches nor overwrite
// a real run's row counts, pending subjects or exit code. Their summary is
// in the log line of the run.
//
// No metric carries personal data: labels are job, table, action and state
// names from the policy and the code, never a subject.
//
// It does not decide what a run counts (package jobs and the jobs do) nor
// when runs happen (package schedule, or the CronJob).
package metrics
