// Package schedule runs lethe's jobs on cron schedules in one long-running
// process, `lethe schedule`, for teams that run lethe without Kubernetes
// CronJobs.
//
// # Schedules
//
// The schedules come from one string, LETHE_SCHEDULE in the environment,
// parsed by [ParseEntries]: entries NAME=SPEC separated by semicolons or
// newlines, for example
//
//	LETHE_SCHEDULE="purge=0 3 * * *; retention=*/15 * * * *"
//
// SPEC is a standard five-field cron expression (minute hour day-of-month
// month day-of-week), read by the same parser as the Kubernetes CronJob
// controller: descriptors such as @daily and @every 1h work, and a spec may
// start with CRON_TZ=Europe/Paris to name its time zone; otherwise
// [Config.Location] applies. [Config.Seconds] switches to six fields with
// seconds first, for tests and demonstrations. A job may appear once.
//
// # Runs
//
// Each run builds a fresh job with [Config.NewJob] and runs it with
// [Config.Runner], so it logs the same summary line as a one-shot run, and
// its metrics are recorded in a [metrics.Registry] served on /metrics next
// to /healthz. A job never runs twice at once: when its time comes while the
// previous run is still going, that run is skipped, logged at Warn, and
// counted in lethe_schedule_skipped_runs_total. Different jobs may run at
// the same time.
//
// # Stopping
//
// When the stop context is done (the first SIGTERM) no new run starts; the
// running ones were built with that context as their Stop, so they finish
// the batch in flight, commit it and return; [Scheduler.Run] waits for them
// and returns nil. Cancelling the run context (the second SIGTERM) aborts
// the batches in flight, which roll back, and Run returns an error.
//
// It does not decide what a job does (the job packages) nor how runs are
// logged and turned into exit codes (package jobs); it does not push to a
// Pushgateway itself, though a push hook in [Config.Runner] still runs.
package schedule
