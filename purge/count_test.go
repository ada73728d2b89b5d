package purge_test

import (
	"context"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/purge"
	"github.com/stretchr/testify/require"
)

// fewPendingSchema has 20,000 users, of whom 100 asked to be erased (60 of
// them past the grace period), and the index an application keeps for
// the purge.
const fewPendingSchema = `CREATE TABLE users (id bigint PRIMARY KEY, requested_at timestamptz, hold boolean NOT NULL DEFAULT false);
CREATE INDEX ON users (requested_at) WHERE requested_at IS NOT NULL;
INSERT INTO users SELECT i, CASE WHEN i % 200 = 0 AND i <= 12000 THEN now() - interval '40 days' WHEN i % 200 = 1 AND i <= 8000 THEN now() - interval '5 days' END
	FROM generate_series(1, 20000) i;
ANALYZE users;`

// TestCountsReadOnlyPendingSubjects checks that the counts a run makes
// before and after its batches (the eligible subjects, the subjects left,
// the gauges of pending requests, the guard's total) read the pending
// requests, not every subject: counts of the whole subject table made
// each run's cost grow with the application's users rather than with the
// subjects it erased (at 640,000 users, two parallel sequential scans of
// the table in every run). The guard's total is counted only as far as
// it can change the guard's verdict (jobs.Limits.GuardTotalCap).
func TestCountsReadOnlyPendingSubjects(t *testing.T) {
	b := setup(t, fewPendingSchema, costPolicy)
	ctx := context.Background()
	requests, total, err := purge.CountSQL(ctx, b.db.Pool, b.pol)
	require.NoError(t, err)
	readAtMost := func(q string, arg any, most float64) {
		t.Helper()
		rows, plan, err := pgtest.MostRows(ctx, b.db.Pool, q, arg)
		require.NoError(t, err)
		require.LessOrEqual(t, rows, most, "the count read more than %v rows:\n%s", most, plan)
	}
	readAtMost(requests, "30 days", 200)
	// 60 eligible, a share of 25% from 50 on: the guard can trip only
	// below 240 subjects.
	limits := jobs.Limits{}
	limits.SetDefaults()
	limit := limits.GuardTotalCap(60, 50)
	require.EqualValues(t, 241, limit)
	readAtMost(total, limit, 241)
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, total, limit).Scan(&n))
	require.Equal(t, 241, n)

	// A run with the guard on passes, and reports what the count found:
	// 40 requests still in their grace period are pending, none is eligible.
	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 60, r.Counter(jobs.SubjectsDone))
	require.EqualValues(t, 0, r.Counter(jobs.SubjectsLeft))
	require.EqualValues(t, 40, r.Gauges[string(jobs.PendingSubjects)])
	require.InDelta(t, 5*86400, r.Gauges[string(jobs.OldestRequestAgeSeconds)], 600)
	require.Zero(t, r.Gauges[string(jobs.OldestOverdueSeconds)])
}
