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
