package purge_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/purge"
	"github.com/stretchr/testify/require"
)

// fakeClock is a jobs.Clock that moves only when the test moves it.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) Now() time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(c.offset.Load()))
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.offset.Add(int64(d))
	return ctx.Err()
}

// TestBudgetStopsThePurgeBetweenBatches spends the run's time budget during
// its first batch, by the session's clock: the batch commits, no other
// starts, and the run says why it stopped and what is left.
func TestBudgetStopsThePurgeBetweenBatches(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	for i := range 5 {
		b.addUser(fmt.Sprintf("u%d", i), "60 days", false, "")
	}
	clock := &fakeClock{}
	o := b.config(func(o *options) {
		o.Workers, o.BatchSize, o.AllowLarge = 1, 2, true
		o.TimeBudget, o.Clock = time.Minute, clock
	})
	j, err := purge.New(o.Config)
	require.NoError(t, err)
	purge.SetHooks(j, nil, nil, func() { clock.offset.Add(int64(2 * time.Minute)) })

	r, code := runJob(t, o, j)
	require.Equal(t, jobs.ExitOK, code, "a spent budget is no failure: the next run carries on")
	require.Equal(t, int64(2), r.Counter(jobs.SubjectsDone), "the first batch committed")
	require.Equal(t, int64(1), r.Counter(jobs.Batches), "and no batch started after the budget")
	require.Equal(t, int64(1), r.Counter(jobs.BudgetExhausted))
	require.Equal(t, int64(3), r.Counter(jobs.SubjectsLeft))
}
