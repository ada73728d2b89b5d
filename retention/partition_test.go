package retention_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

// With asOf 2025-06-15 12:00 UTC and keep: 10d the cutoff is
// 2025-06-05 12:00 UTC.
const partSchema = `
CREATE TABLE events (id bigint NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (created_at, id)) PARTITION BY RANGE (created_at);
CREATE TABLE events_old1 PARTITION OF events FOR VALUES FROM ('2025-05-01 00:00+00') TO ('2025-05-20 00:00+00');
CREATE TABLE events_old2 PARTITION OF events FOR VALUES FROM ('2025-05-20 00:00+00') TO ('2025-06-05 12:00+00');
CREATE TABLE events_future PARTITION OF events FOR VALUES FROM ('2025-06-05 12:00+00') TO ('2025-07-01 00:00+00');
CREATE TABLE events_default PARTITION OF events DEFAULT;

CREATE TABLE audit (id bigint NOT NULL, at timestamp NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE audit_old PARTITION OF audit FOR VALUES FROM ('2025-05-01') TO ('2025-06-01');
CREATE TABLE audit_straddle PARTITION OF audit FOR VALUES FROM ('2025-06-01') TO ('2025-06-10');
CREATE TABLE audit_future PARTITION OF audit FOR VALUES FROM ('2025-06-10') TO ('2025-07-01');
CREATE INDEX ON audit (at);
`

const partRules = `  - {table: events, column: created_at, keep: 10d}
  - {table: audit, column: at, keep: 10d}
`

func fillPartitions(t *testing.T, b *testBundle) {
	t.Helper()
	b.db.Exec(t, `INSERT INTO events VALUES
		(1, '2025-05-02+00'), (2, '2025-05-19+00'), (3, '2025-05-25+00'), (4, '2025-06-05 11:59:59.999999+00'),
		(5, '2025-06-05 12:00+00'), (6, '2025-06-20+00'),
		(7, '2025-01-01+00'), (8, '2025-08-01+00')`) // 7 and 8 land in the default partition
	b.db.Exec(t, `INSERT INTO audit VALUES
		(1, '2025-05-02'), (2, '2025-05-31'), (3, '2025-06-01'), (4, '2025-06-05 11:59:59'),
		(5, '2025-06-05 12:00'), (6, '2025-06-09'), (7, '2025-06-12')`)
}

func partitionsOf(t *testing.T, b *testBundle, parent string) []string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1", parent)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func tableExists(t *testing.T, b *testBundle, name string) bool {
	return b.db.Int(t, "SELECT count(*) FROM pg_class WHERE relname = $1", name) > 0
}

func TestPartitionedTables(t *testing.T) {
	t.Parallel()
	b := setup(t, partSchema, partRules)
	b.cfg.AsOf = asOf
	fillPartitions(t, b)
	b.db.Exec(t, "ANALYZE events, audit") // the report's dropped rows are the planner's
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)

	require.Equal(t, []string{"events_default", "events_future"}, partitionsOf(t, b, "events"))
	require.False(t, tableExists(t, b, "events_old1"), "dropped, not only detached")
	require.False(t, tableExists(t, b, "events_old2"), "upper bound equal to the cutoff: every row is older")
	require.Equal(t, []int{5, 6, 8}, ids(t, b.db.Pool, "SELECT id FROM events ORDER BY id"))
	require.Equal(t, []string{"audit_future", "audit_straddle"}, partitionsOf(t, b, "audit"))
	require.Equal(t, []int{5, 6, 7}, ids(t, b.db.Pool, "SELECT id FROM audit ORDER BY id"))

	require.EqualValues(t, 2, r.Counter("events.partitions_dropped"))
	require.EqualValues(t, 1, r.Counter("audit.partitions_dropped"))
	require.EqualValues(t, 4, r.Rows[jobs.RowKey("events", "drop_partition_estimated")])
	require.EqualValues(t, 1, r.Rows[jobs.RowKey("events", "delete")])
	require.EqualValues(t, 2, r.Rows[jobs.RowKey("audit", "drop_partition_estimated")])
	require.EqualValues(t, 2, r.Rows[jobs.RowKey("audit", "delete")])
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, partSchema+plainSchema, partRules+`  - {table: activity_log, column: created_at, keep: 90d}
`)
	b.cfg.AsOf = asOf
	fillPartitions(t, b)
	b.db.Exec(t, `INSERT INTO activity_log (created_at) SELECT $1::timestamptz - g * interval '1 day' FROM generate_series(1, 200) g`, asOf)
	before := b.db.Snapshot(t, "public")
	b.limits.DryRun = true
	b.limits.BatchSize = 7
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, before, b.db.Snapshot(t, "public"))
	require.Len(t, partitionsOf(t, b, "events"), 4)
	require.EqualValues(t, 2, r.Counter("events.partitions_dropped"))
	require.EqualValues(t, 4, r.Rows[jobs.RowKey("events", "drop_partition")])
	require.EqualValues(t, 1, r.Rows[jobs.RowKey("events", "delete")])
	require.EqualValues(t, 2, r.Rows[jobs.RowKey("audit", "delete")])
	require.EqualValues(t, 110, r.Rows[jobs.RowKey("activity_log", "delete")]) // days 91..200 before asOf; day 90 is at the cutoff
}

// A run killed during DETACH ... CONCURRENTLY leaves the partition "detach
// pending"; one killed between detach and drop leaves a marked table. The
// next run finishes both.
func TestInterruptedDetachIsFinished(t *testing.T) {
	t.Parallel()
	b := setup(t, partSchema, partRules)
	b.cfg.AsOf = asOf
	fillPartitions(t, b)
	ctx := context.Background()

	holder := readerHolding(t, b, "audit")
	conn, err := pgx.Connect(ctx, b.db.URL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	pid := conn.PgConn().PID()
	detached := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "ALTER TABLE audit DETACH PARTITION audit_old CONCURRENTLY")
		detached <- err
	}()
	// Once the detach waits for the holder (its second phase), cancel it.
	waitFor(t, func() bool {
		return b.db.Int(t, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", pid) == 1
	})
	b.db.Exec(t, "SELECT pg_cancel_backend($1)", pid)
	require.Error(t, <-detached, "the detach waits for the holder and is cancelled half way")
	require.NoError(t, holder.Rollback(ctx))
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'audit_old'::regclass AND inhdetachpending"))

	var oid uint32
	require.NoError(t, b.db.Pool.QueryRow(ctx, "SELECT 'events'::regclass::oid").Scan(&oid))
	b.db.Exec(t, "CREATE TABLE events_leftover (LIKE events)")
	b.db.Exec(t, fmt.Sprintf("COMMENT ON TABLE events_leftover IS 'lethe retention: detached from table oid %d, to be dropped'", oid))

	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.False(t, tableExists(t, b, "audit_old"))
	require.False(t, tableExists(t, b, "events_leftover"))
	require.EqualValues(t, 1, r.Counter("audit.partitions_dropped"))
	require.EqualValues(t, 3, r.Counter("events.partitions_dropped"))
}

// A long transaction that reads the table holds a lock DETACH must wait
// for. The job waits lock_timeout at most each time, retries a bounded
// number of times and gives up on the table; meanwhile a third session's
// reads and writes are never stuck behind it for longer than lock_timeout.
func TestLockedTableNeverBlocksTheApplication(t *testing.T) {
	t.Parallel()
	b := setup(t, partSchema, `  - {table: events, column: created_at, keep: 10d}
`)
	b.cfg.AsOf = asOf
	fillPartitions(t, b)
	ctx := context.Background()
	holder := readerHolding(t, b, "events")

	const lockTimeout = 150 * time.Millisecond
	var (
		stop    atomic.Bool
		worst   atomic.Int64
		appErrs atomic.Int64
		wg      sync.WaitGroup
	)
	// progress receives after each of the application's round trips.
	progress := make(chan struct{}, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		app, err := pgx.Connect(ctx, b.db.URL)
		if err != nil {
			appErrs.Add(1)
			return
		}
		defer app.Close(ctx)
		for i := 100; !stop.Load(); i++ {
			started := time.Now()
			if _, err := app.Exec(ctx, "INSERT INTO events VALUES ($1, '2025-06-20+00')", i); err != nil {
				appErrs.Add(1)
			}
			var c int
			if err := app.QueryRow(ctx, "SELECT count(*) FROM events WHERE created_at > '2025-06-19+00'").Scan(&c); err != nil {
				appErrs.Add(1)
			}
			if el := time.Since(started); el.Nanoseconds() > worst.Load() {
				worst.Store(el.Nanoseconds())
			}
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	b.limits.LockTimeout, b.cfg.LockRetries = lockTimeout, 3
	// Each time the job's DETACH gives up waiting for its lock, the
	// application's statements queued behind it go through before the job
	// tries again: the job never keeps them waiting beyond its own attempt,
	// which lock_timeout bounds.
	unblocked := 0
	retention.SetTestHooks(&b.cfg, nil, func() {
		select {
		case <-progress: // a round trip that may have ended before the attempt did
		default:
		}
		select {
		case <-progress:
			unblocked++
		case <-time.After(time.Minute):
			t.Error("the application stays blocked after the job's lock attempt gave up")
		}
	})
	r, err := runJob(t, b.cfg, b.limits)
	stop.Store(true)
	wg.Wait()
	require.Error(t, err, "the table is left for the next run")
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err))
	require.Contains(t, err.Error(), "lock not granted")
	require.Positive(t, r.Counter("lock_retries"))
	require.Zero(t, appErrs.Load())
	t.Logf("worst application round trip while the job ran: %s", time.Duration(worst.Load()))
	require.EqualValues(t, r.Counter("lock_retries"), unblocked, "the application went on after every attempt")
	require.Positive(t, r.Counter("events.rows_left"))

	require.NoError(t, holder.Rollback(ctx))
	retention.SetTestHooks(&b.cfg, nil, nil)
	_, err = runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, []string{"events_default", "events_future"}, partitionsOf(t, b, "events"))
}

func TestPartmanManagedTable(t *testing.T) {
	t.Parallel()
	probe := setup(t, "SELECT 1", `  - {table: nothing, column: x, keep: 1d}
`)
	if probe.db.Int(t, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_partman'") == 0 {
		if os.Getenv("LETHE_REQUIRE_TOOLS") != "" {
			t.Fatal("pg_partman is not installed (scripts/install-partman.sh)")
		}
		t.Skip("pg_partman is not installed: run scripts/install-partman.sh")
	}
	schema := `CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;
CREATE TABLE public.page_views (id bigint NOT NULL, viewed_at timestamptz NOT NULL, PRIMARY KEY (viewed_at, id)) PARTITION BY RANGE (viewed_at);
SELECT partman.create_parent('public.page_views', 'viewed_at', 'native', 'daily',
       p_premake := 3, p_start_partition := (date_trunc('day', now()) - interval '12 days')::text);`
	b := setup(t, schema, `  - {table: page_views, column: viewed_at, keep: 5d}
`)
	b.db.Exec(t, `INSERT INTO page_views SELECT g, date_trunc('day', now()) - interval '12 days' + g * interval '1 hour'
		FROM generate_series(0, 14 * 24) g`)
	before := len(partitionsOf(t, b, "page_views"))
	wantRows := b.db.Int(t, "SELECT count(*) FROM page_views WHERE viewed_at >= now() - interval '5 days'")
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, 7, r.Counter("page_views.partitions_dropped"), "the 7 days wholly older than now() - 5d")
	require.Len(t, partitionsOf(t, b, "page_views"), before-7)
	require.Equal(t, 0, b.db.Int(t, "SELECT count(*) FROM page_views WHERE viewed_at < now() - interval '5 days'"))
	require.Equal(t, wantRows, b.db.Int(t, "SELECT count(*) FROM page_views"))
	// pg_partman still maintains the table after lethe dropped its children.
	b.db.Exec(t, "SELECT partman.run_maintenance('public.page_views')")
}

// TestPlainDetachWaitsBrieflyForItsLock: with a default partition the
// DETACH locks the parent ACCESS EXCLUSIVE, and while it waits for that
// lock every query of the table queues behind it. The job must give up
// after a short wait (ddlLockTimeout) and try again, not wait for all of
// lock_timeout: here an hour, which the run's two minutes would not see
// the end of, and the application's transaction only ends at the job's
// first retry.
func TestPlainDetachWaitsBrieflyForItsLock(t *testing.T) {
	t.Parallel()
	b := setup(t, partSchema, partRules)
	b.cfg.AsOf = asOf
	fillPartitions(t, b)
	ctx := context.Background()
	app, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = app.Rollback(ctx) }()
	_, err = app.Exec(ctx, "SELECT count(*) FROM events")
	require.NoError(t, err)
	b.limits.LockTimeout = time.Hour
	var once sync.Once
	retention.SetTestHooks(&b.cfg, nil, func() { once.Do(func() { require.NoError(t, app.Rollback(ctx)) }) })
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Positive(t, r.Counter("lock_retries"))
	require.Equal(t, []string{"events_default", "events_future"}, partitionsOf(t, b, "events"))
}

// readerHolding begins a transaction that has read table, so that it holds
// the ACCESS SHARE lock a DETACH must wait for, until the test rolls it
// back (or ends).
func readerHolding(t *testing.T, b *testBundle, table string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	_, err = tx.Exec(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize())
	require.NoError(t, err)
	return tx
}
