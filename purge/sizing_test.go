package purge_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/purge"
	"github.com/stretchr/testify/require"
)

// TestPurgeBatchSizeAdaptsToTheTransactionTime drives the runner's
// adaptive batch size with the session's clock: batches that take no time
// double up to LETHE_MAX_BATCH_SIZE, batches slower than four targets
// halve (the default target is 1s).
func TestPurgeBatchSizeAdaptsToTheTransactionTime(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	for i := range 20 {
		b.addUser(fmt.Sprintf("u%d", i), "60 days", false, "")
	}
	fast := b.db.Clone(t)
	run := func(db *bundle, size, max int, batchTakes time.Duration) *jobs.Report {
		clock := &fakeClock{}
		o := db.config(func(o *options) {
			o.Workers, o.BatchSize, o.MaxBatchSize, o.AllowLarge, o.Clock = 1, size, max, true, clock
			o.Governor.Off = true
		})
		j, err := purge.New(o.Config)
		require.NoError(t, err)
		purge.SetHooks(j, nil, nil, func() { clock.offset.Add(int64(batchTakes)) })
		r, code := runJob(t, o, j)
		require.Equal(t, jobs.ExitOK, code)
		require.EqualValues(t, 20, r.Counter(jobs.SubjectsDone))
		return r
	}
	r := run(&bundle{t: t, db: fast, pol: b.pol}, 2, 8, 0)
	require.EqualValues(t, 4, r.Counter(jobs.Batches), "2, 4, 8, then the last 6")
	require.EqualValues(t, 8, r.Gauges[string(jobs.BatchSize)])

	r = run(b, 8, 8, 5*time.Second)
	require.EqualValues(t, 9, r.Counter(jobs.Batches), "8, 4, 2, then six of 1")
	require.EqualValues(t, 1, r.Gauges[string(jobs.BatchSize)])
}
