package retention

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// The statements of a block range read only its blocks, with a TID Range
// Scan, also in the generic plan that a prepared statement ends up with.
func TestBlockRangeUsesTidRangeScan(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `CREATE TABLE activity_log (id bigint PRIMARY KEY, created_at timestamptz, kind text);
CREATE INDEX ON activity_log (created_at, id);`)
	db.Exec(t, `INSERT INTO activity_log SELECT g, now() - g * interval '1 hour', 'k' FROM generate_series(1, 20000) g`)
	db.Exec(t, "ANALYZE activity_log")
	pol, err := policy.Parse([]byte(`subject: {table: users, key: id, requested_at: deletion_requested_at, grace: 30d}
retention:
  - {table: activity_log, column: created_at, keep: 90d, where: {kind: k}}
`), "test.yaml")
	require.NoError(t, err)
	ctx := context.Background()
	targets, err := resolve(ctx, db.Pool, pol)
	require.NoError(t, err)
	tg := targets[0]
	// The range's statement, wet and dry, and the prune read of the range
	// before it.
	stmts := []struct{ params, sql, args string }{
		{"(timestamptz, tid, tid, text)", tg.buildRange(tg.table.Ident(), false).work, "(now() - interval '90 days', '(10,0)', '(20,0)', 'k')"},
		{"(timestamptz, tid, tid, text)", tg.buildRange(tg.table.Ident(), true).work, "(now() - interval '90 days', '(10,0)', '(20,0)', 'k')"},
		{"(tid, tid)", tg.buildRange(tg.table.Ident(), false).prune, "('(10,0)', '(20,0)')"},
	}
	for i, st := range stmts {
		name := fmt.Sprintf("r%d", i)
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan")
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "PREPARE "+name+st.params+" AS "+st.sql)
		require.NoError(t, err)
		rows, err := tx.Query(ctx, "EXPLAIN EXECUTE "+name+st.args)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		plan := strings.Join(lines, "\n")
		t.Log(plan)
		require.Contains(t, plan, "Tid Range Scan")
		require.NotContains(t, plan, "Seq Scan")
		require.NoError(t, tx.Rollback(ctx))
	}
}

// The range width learnt over blocks with nothing expired must not
// overshoot when the walk reaches blocks full of expired rows: simulated
// statements stay within worstFactor targets at the edge, and the walk
// takes few statements.
func TestRangeWidthDoesNotOvershootIntoOldRows(t *testing.T) {
	t.Parallel()
	const (
		blocks       = 600_000 // ~50M rows
		rowsPerBlock = 85.0
		perBlock     = 8e-6 // seconds to scan a block
		target       = 250 * time.Millisecond
	)
	// perRow, the seconds to delete a row: below the model's prior, and
	// twice it (slow disk) so that the first dense range surprises it.
	for _, perRow := range []float64{0.8e-6, 6e-6} {
		for _, oldFrom := range []int64{0, blocks * 6 / 10, blocks - 1000} {
			w := newRangeWidth(target, rowsPerBlock)
			var worst, total time.Duration
			statements := 0
			for lo := int64(0); lo < blocks; {
				hi := min(lo+w.width, blocks)
				rows := int64(float64(max(0, hi-max(lo, oldFrom))) * rowsPerBlock)
				el := time.Duration((float64(hi-lo)*perBlock + float64(rows)*perRow) * float64(time.Second))
				worst, total = max(worst, el), total+el
				w.observe(hi-lo, rows, el)
				statements++
				lo = hi
			}
			t.Logf("per row %.1fµs, old rows from block %d: %d statements, longest %s", perRow*1e6, oldFrom, statements, worst)
			require.LessOrEqual(t, worst, 4*target, "never a statement near 1s")
			require.Less(t, statements, int(2*total/target)+400, "statements not much shorter than the target, or capped by the worst case")
		}
	}
}

// A long run of slow statements (a disk that stalls, a lock queue) must
// not break the model: each one multiplies perRow by how much it overran,
// and without a cap perRow became +Inf after a few hundred, the width
// stuck at 1 block for the rest of the walk however fast the statements
// came back. The costs stay finite and the width recovers.
func TestRangeWidthRecoversAfterManySlowStatements(t *testing.T) {
	t.Parallel()
	const (
		rowsPerBlock = 85.0
		target       = 250 * time.Millisecond
	)
	w := newRangeWidth(target, rowsPerBlock)
	for range 2000 {
		b := w.width
		w.observe(b, int64(float64(b)*rowsPerBlock), 10*target)
	}
	for _, v := range []float64{w.perRow, w.perBlock} {
		require.False(t, math.IsInf(v, 0) || math.IsNaN(v), "costs stay finite: per row %g, per block %g", w.perRow, w.perBlock)
	}
	for range 2000 {
		w.timedOut(w.width)
	}
	require.False(t, math.IsInf(w.perRow, 0) || math.IsInf(w.perBlock, 0), "timeouts do not compound the costs to infinity either")
	// Fast statements again: 8µs a block, 1µs a row, every row expired.
	for range 60 {
		b := w.width
		rows := int64(float64(b) * rowsPerBlock)
		w.observe(b, rows, time.Duration((float64(b)*8e-6+float64(rows)*1e-6)*float64(time.Second)))
	}
	require.Greater(t, w.width, int64(1000), "the width grows back to what fast statements allow (~2700 blocks)")
}

// While the latency probe paces a run, a block range aims at no more than
// PacedRangeTime, however large the share: the WAL one range writes before
// its COMMIT is what the application's commits (and reads that evict a
// block it dirtied) wait to flush. Unpaced, ranges aim at the target.
func TestPacedRangesAreShortBursts(t *testing.T) {
	t.Parallel()
	const target = 250 * time.Millisecond
	require.Equal(t, target, pacedRange(target, target, 20*time.Millisecond), "unpaced")
	require.Equal(t, 20*time.Millisecond, pacedRange(125*time.Millisecond, target, 20*time.Millisecond), "share 0.5")
	require.Equal(t, 10*time.Millisecond, pacedRange(10*time.Millisecond, target, 20*time.Millisecond), "below the bound")
	w := newRangeWidth(target, 85)
	w.observe(1000, 0, 8*time.Millisecond) // 8µs a block, nothing expired
	wide := w.width
	w.retarget(pacedRange(125*time.Millisecond, target, 20*time.Millisecond))
	require.Less(t, w.width, wide/10, "a paced range is a short burst")
}
