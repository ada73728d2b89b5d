package retention_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestBlockRangesReachTheGovernor: a block range's duration reaches the
// governor as a batch's does (its slow-batch signal and the latency
// probe's pacing read it). With a target of 1ns every range is slow, and a
// bound of 1ns fails the run at the second slow range.
func TestBlockRangesReachTheGovernor(t *testing.T) {
	t.Parallel()
	b := setup(t, `CREATE TABLE scattered (id int PRIMARY KEY, created_at timestamptz, pad text) WITH (fillfactor = 10);`,
		`  - {table: scattered, column: created_at, keep: 90d}
`)
	b.cfg.AsOf = asOf
	b.db.Exec(t, `INSERT INTO scattered SELECT g, $1::timestamptz - (g % 200) * interval '1 day', repeat('x', 100)
		FROM generate_series(1, 4000) g ORDER BY random()`, asOf)
	b.cfg.TargetBatchTime = time.Microsecond // one block per range
	b.limits.TargetBatchTime = time.Nanosecond
	b.limits.Governor.MaxThrottle = time.Nanosecond
	b.limits.Clock = newFakeClock()
	r, err := runJob(t, b.cfg, b.limits)
	require.EqualValues(t, 1, r.Counter("scattered.block_range_walks"))
	var te *jobs.ThrottledError
	require.True(t, errors.As(err, &te), "got %v", err)
	require.Equal(t, jobs.ReasonSlowBatches, te.Reason)
}
