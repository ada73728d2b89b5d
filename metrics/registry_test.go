package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/metrics"
	"github.com/stretchr/testify/require"
)

func TestRegistryKeepsLastSuccessAndLabelsByJob(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	hook := reg.Hook()

	t1 := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	hook(context.Background(), purgeReport(t1, 2*time.Second), nil)
	failed := jobs.NewReport("purge", false)
	failed.Started, failed.Duration = t1.Add(time.Hour), time.Second
	failed.AddRows("public.sessions", "delete", 4)
	hook(context.Background(), failed, errors.New("batch: lock timeout"))
	dry := jobs.NewReport("retention", true)
	dry.AddRows("public.events", "delete", 5)
	hook(context.Background(), dry, nil)
	reg.Skipped("purge")

	mfs := scrape(t, srv.URL)
	purge := labels("lethe_job", "purge")
	require.Equal(t, float64(t1.Add(2*time.Second).Unix()), value(t, mfs, metrics.NameLastSuccess, purge))
	require.Equal(t, float64(t1.Add(time.Hour+time.Second).Unix()), value(t, mfs, metrics.NameLastCompletion, purge))
	require.Equal(t, 1.0, value(t, mfs, metrics.NameExitCode, purge))
	require.Equal(t, 3.0, value(t, mfs, metrics.NamePendingSubjects, purge))
	require.Equal(t, 4.0, value(t, mfs, metrics.NameRows, labels("lethe_job", "purge", "table", "public.sessions", "action", "delete")))
	_, ok := series(t, mfs, metrics.NameRows, labels("lethe_job", "purge", "table", "public.users"))
	require.False(t, ok, "a run with rows replaces the rows of the one before")
	require.Equal(t, 7.0, value(t, mfs, metrics.NameSubjects, labels("lethe_job", "purge", "state", "done")))
	require.Equal(t, 1.0, value(t, mfs, metrics.NameSkippedRuns, purge))
	_, ok = series(t, mfs, metrics.NameExitCode, labels("lethe_job", "retention"))
	require.False(t, ok, "a dry run records nothing")
	require.Contains(t, mfs, "go_goroutines")
}

func TestRegistryCountsThrottledSecondsByReasonAndTheBatchSize(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	hook := reg.Hook()
	for _, ms := range []int64{1500, 2500} {
		r := jobs.NewReport("retention", false)
		r.Add(jobs.ThrottledCounter(jobs.ReasonReplicaLag), ms)
		r.Add(jobs.ThrottledMS, ms)
		r.SetGauge(jobs.BatchSize, 4000)
		hook(context.Background(), r, nil)
	}
	mfs := scrape(t, srv.URL)
	require.Equal(t, 4.0, value(t, mfs, metrics.NameThrottled, labels("lethe_job", "retention", "reason", jobs.ReasonReplicaLag)))
	require.Equal(t, 4000.0, value(t, mfs, metrics.NameBatchSize, labels("lethe_job", "retention")))
}

// TestExportMetrics: the export job's pending requests, the oldest one's
// age, and its archives and failures become metrics.
func TestExportMetrics(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	r := jobs.NewReport("export", false)
	r.Started, r.Duration = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC), time.Second
	r.SetGauge(jobs.ExportPendingRequests, 12)
	r.SetGauge(jobs.ExportOldestRequestAgeSeconds, 86400)
	r.Add(jobs.ArchivesWritten, 10)
	r.Add(jobs.ExportFailures, 2)
	reg.Hook()(context.Background(), r, nil)

	mfs := scrape(t, srv.URL)
	export := labels("lethe_job", "export")
	require.Equal(t, 12.0, value(t, mfs, metrics.NameExportPendingRequests, export))
	require.Equal(t, 86400.0, value(t, mfs, metrics.NameExportOldestRequestAge, export))
	require.Equal(t, 10.0, value(t, mfs, metrics.NameExportArchivesWritten, export))
	require.Equal(t, 2.0, value(t, mfs, metrics.NameExportFailures, export))
}

// TestRetentionBacklogMetrics: a retention run's rows left and how far past
// its cutoff the oldest is become metrics by table (the bare totals are
// not a table), and the next run's tables replace them.
func TestRetentionBacklogMetrics(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	hook := reg.Hook()
	at := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)

	r := retentionReport(at, map[string]left{"public.events": {120, 86400}, "audit": {0, 0}})
	r.Set(jobs.RowsLeft, 120)
	r.Set(jobs.RowsOverdueSeconds, 86400)
	hook(context.Background(), r, nil)

	mfs := scrape(t, srv.URL)
	events := labels("lethe_job", "retention", "table", "public.events")
	require.Equal(t, 120.0, value(t, mfs, metrics.NameRetentionRowsLeft, events))
	require.Equal(t, 86400.0, value(t, mfs, metrics.NameRetentionOldestOverdue, events))
	audit := labels("lethe_job", "retention", "table", "audit")
	require.Equal(t, 0.0, value(t, mfs, metrics.NameRetentionRowsLeft, audit))
	require.Equal(t, 0.0, value(t, mfs, metrics.NameRetentionOldestOverdue, audit))
	require.Len(t, mfs[metrics.NameRetentionRowsLeft].GetMetric(), 2, "the totals are not a table")

	hook(context.Background(), retentionReport(at.Add(24*time.Hour), map[string]left{"audit": {7, 60}}), nil)
	mfs = scrape(t, srv.URL)
	require.Equal(t, 7.0, value(t, mfs, metrics.NameRetentionRowsLeft, audit))
	require.Equal(t, 60.0, value(t, mfs, metrics.NameRetentionOldestOverdue, audit))
	_, ok := series(t, mfs, metrics.NameRetentionRowsLeft, events)
	require.False(t, ok, "a run's tables replace the last run's")

	purge := jobs.NewReport("purge", false)
	purge.Started, purge.Duration = at, time.Second
	purge.Set("sessions.rows_left", 3) // not retention's: no series
	hook(context.Background(), purge, nil)
	mfs = scrape(t, srv.URL)
	_, ok = series(t, mfs, metrics.NameRetentionRowsLeft, labels("lethe_job", "purge"))
	require.False(t, ok)
}

// left is what a retention run left of a table: rows, and how far past its
// cutoff the oldest is (seconds).
type left struct{ rows, overdue int64 }

// retentionReport is a retention run that started at started, took a
// minute and left tables as the report's per-table counters say it.
func retentionReport(started time.Time, tables map[string]left) *jobs.Report {
	r := jobs.NewReport("retention", false)
	r.Started, r.Duration = started, time.Minute
	for table, l := range tables {
		r.Set(jobs.Counter(table+"."+string(jobs.RowsLeft)), l.rows)
		r.Set(jobs.Counter(table+"."+string(jobs.RowsOverdueSeconds)), l.overdue)
	}
	return r
}
