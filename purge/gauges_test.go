package purge_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOverdueGaugeCountsOnlyRequestsPastTheirGrace checks the gauge the
// lateness alert reads: how long the oldest request has been past
// requested_at + grace without being erased. A request inside its grace
// period is not late, however old; a held subject is not pending.
func TestOverdueGaugeCountsOnlyRequestsPastTheirGrace(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy) // grace: 30d
	for _, name := range []string{"a1", "a2", "a3", "a4", "a5"} {
		b.addUser(name, "", false, "")
	}
	b.addUser("held", "400 days", true, "")
	b.addUser("ingrace", "29 days", false, "")

	r, code := b.run(dryRun)
	require.Equal(t, 0, code)
	require.Equal(t, 0.0, r.Gauges["oldest_overdue_seconds"], "a request inside its grace period is not overdue")
	require.InDelta(t, (29 * 24 * time.Hour).Seconds(), r.Gauges["oldest_request_age_seconds"], 86400)
	require.Equal(t, (30 * 24 * time.Hour).Seconds(), r.Gauges["grace_seconds"])

	b.addUser("late", "45 days", false, "")
	r, code = b.run(dryRun)
	require.Equal(t, 0, code)
	overdue := r.Gauges["oldest_overdue_seconds"]
	// 45 days ago, 30 days of grace: 15 days late (plus the test's own time).
	require.GreaterOrEqual(t, overdue, (15 * 24 * time.Hour).Seconds())
	require.Less(t, overdue, (16 * 24 * time.Hour).Seconds())

	r, code = b.run()
	require.Equal(t, 0, code)
	require.Equal(t, 0.0, r.Gauges["oldest_overdue_seconds"], "after the purge nothing is late")
	require.Equal(t, 1.0, r.Gauges["pending_subjects"], "the request inside its grace period is still pending")
}
