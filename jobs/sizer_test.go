package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

func TestSizerDoublesFullFastBatchesAndHalvesSlowOnes(t *testing.T) {
	t.Parallel()
	z := jobs.NewSizer(100, 350, 100*time.Millisecond)
	require.Equal(t, 200, z.Observe(100, 100, 50*time.Millisecond), "full and fast: doubled")
	require.Equal(t, 200, z.Observe(200, 150, 50*time.Millisecond), "short: the last batch, kept")
	require.Equal(t, 350, z.Observe(200, 200, 50*time.Millisecond), "capped")
	require.Equal(t, 350, z.Observe(350, 350, 150*time.Millisecond), "slower than the target but within two: kept")
	require.Equal(t, 70, z.Observe(350, 350, 500*time.Millisecond), "five targets: shrunk to what takes one")
	require.Equal(t, 35, z.Halve())
	require.Equal(t, 43, z.Observe(35, 35, 80*time.Millisecond), "nearly the target: grown only to what takes it")
	require.Equal(t, 43, z.Observe(43, 43, 99*time.Millisecond), "just under the target: kept")
	require.Equal(t, 1, z.Observe(43, 43, time.Hour), "never below one")
}

// TestSizedBatchHalvesAfterARealStatementTimeout makes the batch's
// statement wait on a lock the test holds until statement_timeout cancels
// it; the retry, half as large, finds the lock free.
func TestSizedBatchHalvesAfterARealStatementTimeout(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	holder, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = holder.Exec(ctx, "LOCK items IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	s, _ := newSession(t, db, jobs.Limits{BatchSize: 8, StatementTimeout: 200 * time.Millisecond, LockTimeout: time.Hour})
	var sizes []int
	n, size, err := s.SizedBatch(ctx, s.Sizer(), func(ctx context.Context, size int) (int, error) {
		sizes = append(sizes, size)
		var n int
		err := s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, _ *jobs.Tally) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM items LIMIT $1) l", size).Scan(&n)
		})
		if err != nil && len(sizes) == 1 {
			require.NoError(t, holder.Rollback(ctx))
		}
		return n, err
	})
	require.NoError(t, err)
	require.Equal(t, []int{8, 4}, sizes)
	require.Equal(t, 4, size)
	require.Equal(t, 4, n)
	require.EqualValues(t, 1, s.Report.Counter(jobs.BatchesRetried))
	require.EqualValues(t, 8, s.Report.Gauges[string(jobs.BatchSize)], "a full batch in no time grows it back")
}
