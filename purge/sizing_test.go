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
// double up to LETHE_MAX_BATCH_SIZE; a batch slower than two targets
// shrinks the next to what would have taken one (the default target is
// 500ms). A run's first batch takes at most 32 subjects, since a schema's
// cost per subject is unknown until a batch ran.
func TestPurgeBatchSizeAdaptsToTheTransactionTime(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	for i := range 20 {
		b.addUser(fmt.Sprintf("u%d", i), "60 days", false, "")
	}
	fast, first := b.db.Clone(t), b.db.Clone(t)
	run := func(db *bundle, size, max int, batchTakes func(batch int) time.Duration) *jobs.Report {
		clock := &fakeClock{}
		o := db.config(func(o *options) {
			o.Workers, o.BatchSize, o.MaxBatchSize, o.AllowLarge, o.Clock = 1, size, max, true, clock
			o.Governor.Off = true
		})
		j, err := purge.New(o.Config)
		require.NoError(t, err)
		batch := 0
		purge.SetHooks(j, nil, nil, func() { clock.offset.Add(int64(batchTakes(batch))); batch++ })
		r, code := runJob(t, o, j)
		require.Equal(t, jobs.ExitOK, code)
		require.EqualValues(t, 20, r.Counter(jobs.SubjectsDone))
		return r
	}
	instant := func(int) time.Duration { return 0 }
	r := run(&bundle{t: t, db: fast, pol: b.pol}, 2, 8, instant)
	require.EqualValues(t, 4, r.Counter(jobs.Batches), "2, 4, 8, then the last 6")
	require.EqualValues(t, 8, r.Gauges[string(jobs.BatchSize)])

	r = run(b, 8, 8, func(batch int) time.Duration {
		if batch == 0 {
			return 0
		}
		return 2 * time.Second
	})
	require.EqualValues(t, 5, r.Counter(jobs.Batches), "8, 8 (four targets: to 2), 2 (to 1), 1, 1")
	require.EqualValues(t, 1, r.Gauges[string(jobs.BatchSize)])

	r = run(&bundle{t: t, db: first, pol: b.pol}, 500, 500, instant)
	require.EqualValues(t, 1, r.Counter(jobs.Batches))
	require.EqualValues(t, 32, r.Gauges[string(jobs.BatchSize)], "the first batch asked for 32 subjects, not 500")
}
