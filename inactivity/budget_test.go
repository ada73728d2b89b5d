package inactivity_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/inactivity"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// testClock is a jobs.Clock that moves only when the test moves it.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	c.ns.Add(int64(d))
	return ctx.Err()
}

// TestBudgetStopsBetweenBatches spends the time budget (on the session's
// clock) while the first batch of notices is recorded: that batch commits,
// no further batch starts and nothing is delivered, and the report says
// why. The next run records and delivers the rest.
func TestBudgetStopsBetweenBatches(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	for i := range 5 {
		b.user(fmt.Sprint("u", i), 400)
	}
	clock := &testClock{}
	clock.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	j, err := inactivity.New(b.config())
	require.NoError(t, err)
	inactivity.SetBeforeCommit(j, func(_ uint32, batch *jobs.Tally) {
		if batch.Counter(inactivity.NoticesRecorded) > 0 {
			clock.ns.Add(int64(2 * time.Hour))
		}
	})
	limits := jobs.Limits{BatchSize: 2, TimeBudget: time.Hour, AllowLarge: true, Clock: clock}
	r, err := jobtest.Run(t, roletest.Pool(t, b.db, b.pol), j, limits)
	require.NoError(t, err)
	require.EqualValues(t, 1, r.Counter(jobs.BudgetExhausted))
	require.EqualValues(t, 2, r.Counter("notices_recorded"), "one batch of two")
	require.Equal(t, 2, b.db.Int(t, `SELECT count(*) FROM lethe.notices`))
	require.Zero(t, r.Counter("warned"))
	require.Empty(t, b.hook.requests(), "no delivery starts after the budget")

	r, code := b.run()
	require.Equal(t, 0, code)
	require.Zero(t, r.Counter(jobs.BudgetExhausted))
	require.EqualValues(t, 5, r.Counter("warned"))
	require.Len(t, b.hook.requests(), 5)
}
