package retention_test

import (
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

// While the application works, the partition path's transactions (the
// mark, the grouped detach, each drop) are batches to the governor: after
// one that took el, the next waits until lethe is back within its share of
// database time, el/share by the run's clock (the retention's own cap,
// 0.02). Dropped back to back, 47 drops held half of the database's time
// for half a second (bench/impact P3), and the application's commits that
// met their WAL flushes made its p99. Unpaced, a drop is followed by a
// pause as long as it took, as before.
func TestPartitionTransactionsArePacedAsBatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		paced bool
	}{{"paced", true}, {"unpaced", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Each detach and drop takes at least 20 ms, more than the
			// credit a run banks (share times the probe interval), so that
			// every pause is the step's own.
			b := setup(t, groupSchema+`CREATE TABLE busy (id int) WITH (autovacuum_enabled = off);
CREATE FUNCTION slow_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.02); END $$;
CREATE EVENT TRIGGER slow_alter ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION slow_ddl();
CREATE EVENT TRIGGER slow_drop ON sql_drop EXECUTE FUNCTION slow_ddl();
`, `  - {table: ev, column: at, keep: 10d}
`)
			b.cfg.AsOf = asOf
			if tc.paced {
				applicationAtWork(t, b)
			}
			b.limits.Governor.LatencyProbe = tc.paced
			clock := &advancingClock{}
			b.limits.Clock = clock
			type step struct {
				started, ended time.Time
				took           time.Duration
			}
			var mu sync.Mutex
			var steps []step
			retention.SetDDLHooks(&b.cfg, func() {
				mu.Lock()
				defer mu.Unlock()
				steps = append(steps, step{started: clock.Now()})
			}, func(el time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				steps[len(steps)-1].ended, steps[len(steps)-1].took = clock.Now(), el
			})
			r, err := runJob(t, b.cfg, b.limits)
			require.NoError(t, err)
			require.EqualValues(t, 6, r.Counter("ev.partitions_dropped"))
			require.Len(t, steps, 1+1+6, "the mark, one detach, six drops")

			const share = retention.DefaultPacedShare
			// The first step may spend credit the run banked before it.
			for i := 2; i < len(steps); i++ {
				prev, gap := steps[i-1], steps[i].started.Sub(steps[i-1].ended)
				require.GreaterOrEqual(t, prev.took, 20*time.Millisecond)
				paced := time.Duration(float64(prev.took) / share / 2)
				if tc.paced {
					require.GreaterOrEqual(t, gap, paced, "step %d: waited %s after a step of %s", i, gap, prev.took)
				} else {
					require.Less(t, gap, paced, "step %d: waited %s after a step of %s", i, gap, prev.took)
				}
			}
		})
	}
}

// A run whose budget runs out between two drops leaves the detached
// partitions it did not drop, marked, and says so: partitions_left, and
// their estimated rows in rows_left, so that the backlog alert sees them.
// The next run drops them first.
func TestBudgetBetweenDropsLeavesPartitionsForTheNextRun(t *testing.T) {
	t.Parallel()
	b := setup(t, groupSchema, `  - {table: ev, column: at, keep: 10d}
`)
	b.cfg.AsOf = asOf
	b.db.Exec(t, `INSERT INTO ev SELECT g, timestamptz '2025-05-01 00:00+00' + (g % 30) * interval '1 day' FROM generate_series(1, 600) g`)
	b.db.Exec(t, "ANALYZE ev")
	clock := newFakeClock()
	b.limits.Clock, b.limits.TimeBudget = clock, time.Hour
	calls := 0
	// Calls: the mark, the detach, then one per drop: the budget runs
	// out during the second drop.
	retention.SetDDLHooks(&b.cfg, func() {
		if calls++; calls == 4 {
			clock.advance(2 * time.Hour)
		}
	}, nil)
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, 1, r.Counter(jobs.BudgetExhausted))
	require.EqualValues(t, 2, r.Counter("ev.partitions_dropped"))
	require.EqualValues(t, 4, r.Counter("ev.partitions_left"))
	require.EqualValues(t, 4, r.Counter("partitions_left"))
	require.EqualValues(t, 400, r.Counter("ev.rows_left"), "the planner's 100 rows of each partition left")
	require.Positive(t, r.Counter("ev.oldest_overdue_seconds"), "rows past their cutoff are left")
	require.Equal(t, []string{"ev_default"}, partitionsOf(t, b, "ev"), "all six were detached")
	left := b.db.Int(t, "SELECT count(*) FROM pg_class c JOIN pg_description d ON d.objoid = c.oid WHERE c.relname LIKE 'ev\\_%' AND d.description LIKE 'lethe retention:%'")
	require.Equal(t, 4, left, "the four left carry the marker")

	retention.SetDDLHooks(&b.cfg, nil, nil)
	b.limits.Clock = nil
	r, err = runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, 4, r.Counter("ev.partitions_dropped"))
	require.Zero(t, r.Counter("ev.partitions_left"))
	require.Zero(t, r.Counter("ev.rows_left"))
	require.Zero(t, r.Counter("ev.oldest_overdue_seconds"))
	for i := range 6 {
		require.False(t, tableExists(t, b, "ev_"+string(rune('0'+i))))
	}
}
