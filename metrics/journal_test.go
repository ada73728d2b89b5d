package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/metrics"
	"github.com/stretchr/testify/require"
)

// TestPushesTheJournalBacklog: issue 14. The purge's journal backlog
// reaches the Pushgateway, where LetheJournalLagging reads it.
func TestPushesTheJournalBacklog(t *testing.T) {
	t.Parallel()
	url := startPushgateway(t)
	r := purgeReport(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC), time.Second)
	r.SetGauge(jobs.UnjournaledReceipts, 42)
	r.SetGauge(jobs.OldestUnjournaledSeconds, 600)
	metrics.PushHook(url, jobtest.Logger(t))(context.Background(), r, nil)
	mfs := scrape(t, url)
	purge := labels("job", "lethe", "lethe_job", "purge")
	require.Equal(t, 42.0, value(t, mfs, metrics.NameUnjournaled, purge))
	require.Equal(t, 600.0, value(t, mfs, metrics.NameOldestUnjournaled, purge))
}

// TestPushesTheRetentionBacklog: a retention run's rows left and their
// lateness reach the Pushgateway by table, where LetheRetentionOverdue
// reads them; the next run's push replaces the tables (Add replaces a
// whole family), so a table the policy no longer names, or that the next
// run finished, does not keep the alert firing.
func TestPushesTheRetentionBacklog(t *testing.T) {
	t.Parallel()
	url := startPushgateway(t)
	at := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	first := retentionReport(at, map[string]left{"events": {1200, 7200}, "audit": {0, 0}})
	metrics.PushHook(url, jobtest.Logger(t))(context.Background(), first, nil)
	mfs := scrape(t, url)
	events := labels("job", "lethe", "lethe_job", "retention", "table", "events")
	require.Equal(t, 1200.0, value(t, mfs, metrics.NameRetentionRowsLeft, events))
	require.Equal(t, 7200.0, value(t, mfs, metrics.NameRetentionOldestOverdue, events))

	next := retentionReport(at.Add(24*time.Hour), map[string]left{"audit": {0, 0}})
	metrics.PushHook(url, jobtest.Logger(t))(context.Background(), next, nil)
	mfs = scrape(t, url)
	_, ok := series(t, mfs, metrics.NameRetentionOldestOverdue, events)
	require.False(t, ok, "the next push replaced the tables")
	require.Equal(t, 0.0, value(t, mfs, metrics.NameRetentionOldestOverdue, labels("job", "lethe", "lethe_job", "retention", "table", "audit")))
}

// TestShardsPushToGroupsOfTheirOwn: the pods of a sharded retention each
// push to their own group (shard=i/N), so one pod's push does not replace
// the tables another pod reported late.
func TestShardsPushToGroupsOfTheirOwn(t *testing.T) {
	t.Parallel()
	url := startPushgateway(t)
	at := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	push := func(shard jobs.Shard, table string, overdue int64) {
		r := retentionReport(at, map[string]left{table: {overdue, overdue}})
		metrics.PushHook(url, jobtest.Logger(t), metrics.WithShard(shard))(context.Background(), r, nil)
	}
	push(jobs.Shard{Index: 0, Count: 2}, "events", 7200)
	push(jobs.Shard{Index: 1, Count: 2}, "audit", 0)
	mfs := scrape(t, url)
	require.Equal(t, 7200.0, value(t, mfs, metrics.NameRetentionOldestOverdue,
		labels("job", "lethe", "lethe_job", "retention", "shard", "0/2", "table", "events")), "shard 1's push left shard 0's tables")
	require.Equal(t, 0.0, value(t, mfs, metrics.NameRetentionOldestOverdue,
		labels("job", "lethe", "lethe_job", "retention", "shard", "1/2", "table", "audit")))
	require.Equal(t, 2, len(mfs["push_time_seconds"].GetMetric()), "one group per shard")
}
