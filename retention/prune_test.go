package retention_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

// While the application is at work (the latency probe paces the run), each
// block range first reads the range before it again, so that the server
// prunes the rows deleted there in lethe's session: the application's next
// read of those blocks does not. Unpaced (here: without the probe), and
// with SkipPrune, the rows are left deleted but not pruned, as a DELETE
// leaves them.
func TestPacedBlockRangesPruneTheRangeBefore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		app, skip  bool
		wantPruned bool
	}{
		{name: "paced", app: true, wantPruned: true},
		{name: "paced, SkipPrune", app: true, skip: true},
		{name: "unpaced", app: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// No autovacuum: an autoanalyze holds a snapshot.
			b := setup(t, `CREATE TABLE log (id int PRIMARY KEY, created_at timestamptz NOT NULL, pad text) WITH (autovacuum_enabled = off);
CREATE TABLE busy (id int) WITH (autovacuum_enabled = off);`, `  - {table: log, column: created_at, keep: 90d}
`)
			b.cfg.AsOf = asOf
			b.cfg.SkipPrune = tc.skip
			// Full blocks (the server prunes a block on access only when
			// it is nearly full): about 18 blocks of expired rows, then
			// kept ones.
			b.db.Exec(t, `INSERT INTO log SELECT g, $1::timestamptz - CASE WHEN g <= 1000 THEN interval '100 days' ELSE interval '1 day' END,
				repeat('x', 100) FROM generate_series(1, 2000) g`, asOf)
			b.db.Exec(t, "CREATE EXTENSION IF NOT EXISTS pageinspect")
			expired := b.db.Int(t, "SELECT count(*) FROM log WHERE created_at < $1", asOf.Add(-90*24*time.Hour))
			rangesWithRows := b.db.Int(t, "SELECT count(DISTINCT (ctid::text::point)[0]) FROM log WHERE created_at < $1", asOf.Add(-90*24*time.Hour))
			require.Greater(t, rangesWithRows, 10)

			if tc.app {
				applicationAtWork(t, b)
			}
			b.limits.Governor.LatencyProbe = tc.app
			b.limits.Clock = &advancingClock{}
			b.cfg.TargetBatchTime = time.Microsecond // one block per range
			// In production the pacing pause lets the transactions that
			// began before a range's commit end before the next range
			// prunes it. Here the pauses take no time, and other tests'
			// transactions (a migration in another database, even) would
			// hold the rows: wait for them before each range.
			retention.SetTestHooks(&b.cfg, func() {
				waitFor(t, func() bool {
					return b.db.Int(t, `SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query <> 'VACUUM busy'
						AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)`) == 0
				})
			}, nil)
			r, err := runJob(t, b.cfg, b.limits)
			require.NoError(t, err)
			require.EqualValues(t, expired, r.Rows[jobs.RowKey("log", "delete")])

			// Deleted but not pruned: a tuple still there (LP_NORMAL) with
			// its deleter set; pruned: a dead line pointer (LP_DEAD).
			var unpruned, pruned int
			for blk := range b.db.Int(t, "SELECT pg_relation_size('log') / current_setting('block_size')::int") {
				unpruned += b.db.Int(t, "SELECT count(*) FROM heap_page_items(get_raw_page('log', $1)) WHERE lp_flags = 1 AND t_xmax <> '0'", blk)
				pruned += b.db.Int(t, "SELECT count(*) FROM heap_page_items(get_raw_page('log', $1)) WHERE lp_flags = 3", blk)
			}
			if tc.wantPruned {
				// The range after the last one with expired rows (and
				// nothing to delete) prunes that one too.
				require.EqualValues(t, rangesWithRows, r.Counter("log.blocks_pruned"), "every range that deleted rows")
				require.Zero(t, unpruned, "every deleted row pruned")
				require.Equal(t, expired, pruned)
				return
			}
			require.Zero(t, r.Counter("log.blocks_pruned"))
			require.Equal(t, expired, unpruned, "every deleted row is left to prune")
			require.Zero(t, pruned)
		})
	}
}

// applicationAtWork keeps a client session of the test's database active
// (not idle) until the test ends, so that the latency probe paces the run,
// without holding back the horizon of rows the server may prune: a lazy
// VACUUM, slowed to a crawl by its cost delay, is active, and the server
// ignores a VACUUM's snapshot when it decides which deleted rows no
// transaction can still see.
func applicationAtWork(t *testing.T, b *testBundle) {
	t.Helper()
	b.db.Exec(t, "INSERT INTO busy SELECT generate_series(1, 100000)")
	b.db.Exec(t, "DELETE FROM busy WHERE id % 2 = 0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	started := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := b.db.Pool.Acquire(ctx)
		if err != nil {
			close(started)
			return
		}
		defer conn.Release()
		_, _ = conn.Exec(ctx, "SET vacuum_cost_delay = 100")
		_, _ = conn.Exec(ctx, "SET vacuum_cost_limit = 1")
		close(started)
		_, _ = conn.Exec(ctx, "VACUUM busy")
	}()
	<-started
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, func() bool {
		return b.db.Int(t, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'VACUUM busy' AND state = 'active'") == 1
	})
}

// advancingClock is a jobs.Clock whose pauses return at once and move it
// forward by the time paused, so that the pacing's pauses and the credit
// they earn take no real time.
type advancingClock struct{ ns atomic.Int64 }

func (c *advancingClock) Now() time.Time { return asOf.Add(time.Duration(c.ns.Load())) }

func (c *advancingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.ns.Add(int64(d))
	return ctx.Err()
}
