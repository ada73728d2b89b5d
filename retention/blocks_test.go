package retention_test

import (
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

// Expired rows spread over many blocks in random order, rows exactly at the
// cutoff, NULLs, and an application inserting old and new rows while the
// walk runs: the walk deletes every row older than the cutoff that was there
// when it started, and nothing that is not older.
func TestBlockRangesWalkScatteredRows(t *testing.T) {
	t.Parallel()
	b := setup(t, `CREATE TABLE scattered (id int PRIMARY KEY, created_at timestamptz, pad text) WITH (fillfactor = 10);`,
		`  - {table: scattered, column: created_at, keep: 90d}
`)
	b.cfg.AsOf = asOf
	cut := asOf.Add(-90 * 24 * time.Hour)
	// Ages 0..199 days: 91..199 are older than the cutoff, 90 is exactly at it; every 50th row is NULL.
	b.db.Exec(t, `INSERT INTO scattered SELECT g, CASE WHEN g % 50 = 0 THEN NULL ELSE $1::timestamptz - (g % 200) * interval '1 day' END, repeat('x', 100)
		FROM generate_series(1, 4000) g ORDER BY random()`, asOf)
	blocks := b.db.Int(t, "SELECT pg_relation_size('scattered') / current_setting('block_size')::int")
	require.Greater(t, blocks, 300, "fillfactor 10 spreads the rows")
	expired := b.db.Int(t, "SELECT count(*) FROM scattered WHERE created_at < $1", cut)
	require.Equal(t, 0, b.db.Int(t, "SELECT count(*) FROM scattered WHERE created_at IS NOT NULL AND created_at < $1 AND id % 200 <= 90", cut))

	// The application inserts while the job runs, between every few ranges:
	// every other row is older than the cutoff.
	var inserted, insertedOld, ranges int64
	retention.SetTestHooks(&b.cfg, func() {
		if ranges++; ranges%4 != 1 {
			return
		}
		for k := range int64(2) {
			i := 100000 + inserted
			at := asOf.Add(time.Hour)
			if k == 0 {
				at = cut.Add(-time.Hour)
				insertedOld++
			}
			b.db.Exec(t, "INSERT INTO scattered VALUES ($1, $2, 'app')", i, at)
			inserted++
		}
	}, nil)
	// A target far below any statement's duration: every range is one
	// block wide, whatever the machine's speed.
	b.cfg.TargetBatchTime = time.Microsecond
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Positive(t, inserted)

	require.EqualValues(t, 1, r.Counter("scattered.block_range_walks"))
	require.Greater(t, r.Counter("scattered.batches"), int64(10), "many ranges")
	require.Equal(t, 0, b.db.Int(t, "SELECT count(*) FROM scattered WHERE id <= 4000 AND created_at < $1", cut), "every old row that was there is gone")
	require.Equal(t, 4000-expired, b.db.Int(t, "SELECT count(*) FROM scattered WHERE id <= 4000"))
	require.Equal(t, 80, b.db.Int(t, "SELECT count(*) FROM scattered WHERE created_at IS NULL"), "NULLs stay")
	require.Equal(t, 20, b.db.Int(t, "SELECT count(*) FROM scattered WHERE created_at = $1", cut), "rows at the cutoff stay")
	newRows := inserted - insertedOld
	require.EqualValues(t, newRows, b.db.Int(t, "SELECT count(*) FROM scattered WHERE id >= 100000 AND created_at >= $1", cut),
		"the application's new rows all stay")
	oldLeft := b.db.Int(t, "SELECT count(*) FROM scattered WHERE id >= 100000 AND created_at < $1", cut)
	require.EqualValues(t, int64(expired)+insertedOld-int64(oldLeft), r.Rows[jobs.RowKey("scattered", "delete")])
}

// The planner's estimate of the expired share picks the method: a few
// expired rows go by keyset batches over the index, many by block ranges.
func TestMethodFollowsExpiredShare(t *testing.T) {
	t.Parallel()
	b := setup(t, `CREATE TABLE few (id int PRIMARY KEY, created_at timestamptz NOT NULL);
CREATE INDEX ON few (created_at, id);
CREATE TABLE many (id int PRIMARY KEY, created_at timestamptz NOT NULL);
CREATE INDEX ON many (created_at, id);`, `  - {table: few, column: created_at, keep: 90d}
  - {table: many, column: created_at, keep: 90d}
`)
	b.cfg.AsOf = asOf
	b.db.Exec(t, `INSERT INTO few SELECT g, $1::timestamptz - CASE WHEN g % 100 = 0 THEN interval '1 year' ELSE interval '1 day' END FROM generate_series(1, 20000) g`, asOf)
	b.db.Exec(t, `INSERT INTO many SELECT g, $1::timestamptz - CASE WHEN g % 10 < 4 THEN interval '1 year' ELSE interval '1 day' END FROM generate_series(1, 20000) g`, asOf)
	b.db.Exec(t, "ANALYZE few, many")
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, 0, r.Counter("few.block_range_walks"), "1% expired: keyset")
	require.EqualValues(t, 1, r.Counter("many.block_range_walks"), "40% expired: block ranges")
	require.EqualValues(t, 200, r.Rows[jobs.RowKey("few", "delete")])
	require.EqualValues(t, 8000, r.Rows[jobs.RowKey("many", "delete")])
	require.Equal(t, 0, b.db.Int(t, "SELECT (SELECT count(*) FROM few WHERE created_at < $1) + (SELECT count(*) FROM many WHERE created_at < $1)", asOf.AddDate(0, 0, -90)))
}

// A walk stopped by its budget leaves whole ranges done and reports the
// rows left; the next run walks again from block 0 and finishes.
func TestBlockRangeWalkStopsOnBudgetAndResumes(t *testing.T) {
	t.Parallel()
	b := setup(t, `CREATE TABLE spread (id int PRIMARY KEY, created_at timestamptz NOT NULL, pad text) WITH (fillfactor = 10);`,
		`  - {table: spread, column: created_at, keep: 90d}
`)
	b.cfg.AsOf = asOf
	b.db.Exec(t, `INSERT INTO spread SELECT g, $1::timestamptz - (g % 200) * interval '1 day', repeat('x', 100)
		FROM generate_series(1, 4000) g`, asOf)
	cut := asOf.Add(-90 * 24 * time.Hour)
	kept := b.db.Int(t, "SELECT count(*) FROM spread WHERE created_at >= $1", cut)
	// Ranges of a few blocks (the first is sized from the model's priors,
	// each next one at most four times the last): two of them leave most
	// of the table; the budget runs out during the second.
	b.cfg.TargetBatchTime = time.Millisecond
	b.limits.TimeBudget = time.Minute
	stopAfter(&b.cfg, &b.limits, 2)
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, 1, r.Counter("budget_exhausted"))
	require.EqualValues(t, 2, r.Counter("spread.batches"))
	left := b.db.Int(t, "SELECT count(*) FROM spread WHERE created_at < $1", cut)
	require.Positive(t, left)
	require.EqualValues(t, left, r.Counter("spread.rows_left"))
	require.Equal(t, kept, b.db.Int(t, "SELECT count(*) FROM spread WHERE created_at >= $1", cut))

	retention.SetTestHooks(&b.cfg, nil, nil)
	r, err = runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, left, r.Rows[jobs.RowKey("spread", "delete")])
	require.Equal(t, kept, b.db.Int(t, "SELECT count(*) FROM spread"))
}

// A walk stopped by its budget goes on, in the next run, where it stopped
// rather than at block 0 (where a paced run that stops at its budget would
// read again, run after run, the blocks it emptied); and a run that walks
// to the end goes around to the blocks before its start, so that rows
// expired since the earlier runs (a later cutoff) go too.
func TestBlockRangeWalkGoesOnWhereItStopped(t *testing.T) {
	t.Parallel()
	b := setup(t, `CREATE TABLE spread (id int PRIMARY KEY, created_at timestamptz NOT NULL, pad text) WITH (fillfactor = 10);`,
		`  - {table: spread, column: created_at, keep: 90d}
`)
	b.cfg.AsOf = asOf
	cut := asOf.Add(-90 * 24 * time.Hour)
	// Every block holds expired rows; the first rows (block 0) are 89
	// days old: kept by a run as of asOf, expired two days later.
	b.db.Exec(t, `INSERT INTO spread SELECT g, CASE WHEN g <= 5 THEN $1::timestamptz - interval '89 days'
		ELSE $1::timestamptz - interval '100 days' END, repeat('x', 100) FROM generate_series(1, 4000) g`, asOf)
	require.Equal(t, 5, b.db.Int(t, "SELECT count(*) FROM spread WHERE ctid < '(1,0)' AND created_at >= $1", cut))
	blocks := b.db.Int(t, "SELECT pg_relation_size('spread') / current_setting('block_size')::int")
	// A target far below any statement's duration: every range is one
	// block wide, whatever the machine's speed.
	b.cfg.TargetBatchTime = time.Microsecond
	b.limits.TimeBudget = time.Minute
	perBlock := b.db.Int(t, "SELECT count(*) FROM spread WHERE ctid >= '(1,0)' AND ctid < '(2,0)'")

	stopAfter(&b.cfg, &b.limits, 3)
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, 3, r.Counter("spread.blocks_walked"), "three ranges of one block")
	require.EqualValues(t, 2*perBlock, r.Rows[jobs.RowKey("spread", "delete")], "block 0's rows are kept")

	stopAfter(&b.cfg, &b.limits, 3)
	r, err = runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, 3, r.Counter("spread.blocks_walked"))
	require.EqualValues(t, 3*perBlock, r.Rows[jobs.RowKey("spread", "delete")],
		"the second run's ranges are blocks 3 to 5, full of expired rows, not blocks 0 to 2 again")

	// Two days later, the rows of block 0 are expired too: the run that
	// goes on from block 4 to the end comes around to them.
	retention.SetTestHooks(&b.cfg, nil, nil)
	b.limits.Clock = nil
	b.cfg.AsOf = asOf.Add(48 * time.Hour)
	r, err = runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, blocks, r.Counter("spread.blocks_walked"), "every block once: from block 6 to the end, then 0 to 5")
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM spread"))
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM lethe.retention_walks"), "a walk that went around leaves no position")
}

// A position whose relation is gone (a dropped partition) is forgotten by
// the next run; a live table's position is kept.
func TestWalkPositionsOfDroppedTablesAreForgotten(t *testing.T) {
	t.Parallel()
	b := setup(t, `CREATE TABLE spread (id int PRIMARY KEY, created_at timestamptz NOT NULL, pad text) WITH (fillfactor = 10);
CREATE TABLE gone (id int);`,
		`  - {table: spread, column: created_at, keep: 90d}
`)
	b.cfg.AsOf = asOf
	b.db.Exec(t, `INSERT INTO spread SELECT g, $1::timestamptz - interval '100 days', repeat('x', 100)
		FROM generate_series(1, 4000) g`, asOf)
	b.cfg.TargetBatchTime = time.Microsecond
	b.limits.TimeBudget = time.Minute
	stopAfter(&b.cfg, &b.limits, 2)
	_, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	spread := b.db.Int(t, "SELECT 'spread'::regclass::oid::int")
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM lethe.retention_walks WHERE relid = $1::int::oid", spread))

	gone := b.db.Int(t, "SELECT 'gone'::regclass::oid::int")
	b.db.Exec(t, "INSERT INTO lethe.retention_walks (relid, filenode, next_block) VALUES ($1::int::oid, $1::int::oid, 3)", gone)
	b.db.Exec(t, "DROP TABLE gone")

	stopAfter(&b.cfg, &b.limits, 2)
	_, err = runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM lethe.retention_walks WHERE relid = $1::int::oid", gone), "the dropped table's position is forgotten")
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM lethe.retention_walks WHERE relid = $1::int::oid", spread), "the live table's position stays")
}
