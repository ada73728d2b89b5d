package inactivity_test

import (
	"context"
	"testing"

	"github.com/lethe-project/lethe/inactivity"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestRolledBackBatchIsNotCounted kills a batch's connection just before
// it commits the notices it recorded: none is recorded, and the report
// counts none.
func TestRolledBackBatchIsNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	a := b.user("a", 400)
	b.user("c", 10)
	j, err := inactivity.New(b.config())
	require.NoError(t, err)
	inactivity.SetBeforeCommit(j, func(pid uint32, batch *jobs.Tally) {
		if batch.Counter(inactivity.NoticesRecorded) > 0 {
			// With a timeout, pg_terminate_backend waits until the process is gone.
			b.db.Exec(t, "SELECT pg_terminate_backend($1, 60000)", int32(pid))
		}
	})
	r, err := jobtest.Run(t, roletest.Pool(t, b.db, b.pol), j, jobs.Limits{})
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err))
	require.Zero(t, b.notices(a), "the batch rolled back")
	require.Zero(t, r.Counter("notices_recorded"), "so it counts nothing")
	require.Empty(t, b.hook.requests())
}

// TestCountsReadOnlyInactiveSubjects checks that a run's counts read the
// inactive subjects, not every subject, when the application indexes
// last_active: the guard's total is counted only as far as it can change
// the guard's verdict (jobs.Limits.GuardTotalCap), and that verdict is
// the one the whole total gives, on both sides of the share.
func TestCountsReadOnlyInactiveSubjects(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	b.db.Exec(t, `INSERT INTO users (id, email, name, last_active_at)
		SELECT gen_random_uuid(), 'u' || i || '@example.com', 'User ' || i,
			now() - CASE WHEN i <= 60 THEN 400 ELSE 1 END * interval '1 day'
		FROM generate_series(1, 20000) i`)
	b.db.Exec(t, `CREATE INDEX ON users (last_active_at)`)
	b.db.Exec(t, `ANALYZE users`)
	ctx := context.Background()
	j, err := inactivity.New(b.config())
	require.NoError(t, err)
	stats, total, err := inactivity.CountSQL(ctx, j)
	require.NoError(t, err)
	readAtMost := func(q string, most float64, args ...any) {
		t.Helper()
		rows, plan, err := pgtest.MostRows(ctx, b.db.Pool, q, args...)
		require.NoError(t, err)
		require.LessOrEqual(t, rows, most, "the count read more than %v rows:\n%s", most, plan)
	}
	readAtMost(stats, 200, "365 days", "30 days")
	// 60 to warn, a share of 25% from 50 on: the guard can trip only
	// below 240 subjects.
	limits := jobs.Limits{}
	limits.SetDefaults()
	limit := limits.GuardTotalCap(60, 50)
	require.EqualValues(t, 241, limit)
	readAtMost(total, 241, limit)

	// The verdict is the whole total's: 60 of 20,000 is more than 0.29%
	// and less than 0.31%.
	_, code := b.runLimits(jobs.Limits{DryRun: true, MaxShare: 0.0029})
	require.Equal(t, jobs.ExitGuard, code)
	r, code := b.runLimits(jobs.Limits{DryRun: true, MaxShare: 0.0031})
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 60, r.Counter(inactivity.ToWarn))
}
