package retention_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

// groupSchema has two tables of six partitions older than the cutoff
// (asOf, keep 10d: 2025-06-05 12:00), one with a default partition and one
// without, and event triggers that log, with its transaction id, every
// ALTER TABLE and every dropped table.
const groupSchema = `
CREATE TABLE ev (id bigint NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE ev_default PARTITION OF ev DEFAULT;
CREATE TABLE au (id bigint NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE au_new PARTITION OF au FOR VALUES FROM ('2025-06-10 00:00+00') TO ('2025-07-01 00:00+00');
DO $$ BEGIN FOR i IN 0..5 LOOP
  EXECUTE format('CREATE TABLE ev_%s PARTITION OF ev FOR VALUES FROM (%L) TO (%L)', i,
    timestamptz '2025-05-01 00:00+00' + i * interval '5 days', timestamptz '2025-05-01 00:00+00' + (i + 1) * interval '5 days');
  EXECUTE format('CREATE TABLE au_%s PARTITION OF au FOR VALUES FROM (%L) TO (%L)', i,
    timestamptz '2025-05-01 00:00+00' + i * interval '5 days', timestamptz '2025-05-01 00:00+00' + (i + 1) * interval '5 days');
END LOOP; END $$;
CREATE TABLE ddl_log (txid bigint, tag text, object text);
CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
  INSERT INTO ddl_log SELECT txid_current(), c.command_tag, c.object_identity FROM pg_event_trigger_ddl_commands() c; END $$;
CREATE EVENT TRIGGER log_ddl ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION log_ddl();
CREATE FUNCTION log_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
  INSERT INTO ddl_log SELECT txid_current(), 'DROP TABLE', o.object_identity FROM pg_event_trigger_dropped_objects() o
  WHERE o.object_type = 'table'; END $$;
CREATE EVENT TRIGGER log_drop ON sql_drop EXECUTE FUNCTION log_drop();
`

// Every DETACH invalidates the parent's relcache entry, and each of the
// application's sessions then rebuilds it and replans its statements on
// the table (bench/impact c2, c3: 97-144 plans for 40 partitions detached
// one by one, 13-26 when they go in one transaction). So the partitions go
// in one transaction (one invalidation), with or without a default
// partition, and are dropped afterwards, each in a transaction of its own:
// never while the parent is locked, and never many at once.
func TestPartitionsDetachInOneTransactionAndDropOneByOne(t *testing.T) {
	t.Parallel()
	b := setup(t, groupSchema, `  - {table: ev, column: at, keep: 10d}
  - {table: au, column: at, keep: 10d}
`)
	b.cfg.AsOf = asOf
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, []string{"ev_default"}, partitionsOf(t, b, "ev"))
	require.Equal(t, []string{"au_new"}, partitionsOf(t, b, "au"))
	require.EqualValues(t, 6, r.Counter("ev.partitions_dropped"))
	require.EqualValues(t, 6, r.Counter("au.partitions_dropped"))
	for _, parent := range []string{"public.ev", "public.au"} {
		require.Equal(t, 6, b.db.Int(t, "SELECT count(*) FROM ddl_log WHERE tag = 'ALTER TABLE' AND object = $1", parent),
			"%s: one ALTER TABLE per partition", parent)
		require.Equal(t, 1, b.db.Int(t, "SELECT count(DISTINCT txid) FROM ddl_log WHERE tag = 'ALTER TABLE' AND object = $1", parent),
			"%s: the partitions are detached in one transaction", parent)
		prefix := parent[len("public."):] + "_"
		require.Equal(t, 6, b.db.Int(t, "SELECT count(DISTINCT txid) FROM ddl_log WHERE tag = 'DROP TABLE' AND object LIKE 'public.' || $1 || '%'", prefix),
			"%s: each detached partition is dropped in a transaction of its own", parent)
		require.Zero(t, b.db.Int(t, `SELECT count(*) FROM ddl_log d JOIN ddl_log a ON a.txid = d.txid AND a.tag = 'ALTER TABLE' AND a.object = $1
			WHERE d.tag = 'DROP TABLE'`, parent), "%s: no DROP while the parent is locked", parent)
	}
}

// A table without a default partition whose parent lock a long reader
// holds: the plain DETACH gives up after its short attempts, and the job
// falls back to DETACH ... CONCURRENTLY, which does not block the
// application and waits for the reader.
func TestBusyTableFallsBackToConcurrentDetach(t *testing.T) {
	t.Parallel()
	b := setup(t, partSchema, `  - {table: audit, column: at, keep: 10d}
`)
	b.cfg.AsOf = asOf
	fillPartitions(t, b)
	ctx := context.Background()
	holder := readerHolding(t, b, "audit")
	b.cfg.LockRetries = 1 // four short attempts more
	retries := 0
	retention.SetTestHooks(&b.cfg, nil, func() { retries++ })
	released := make(chan struct{})
	go func() {
		defer close(released)
		// The concurrent detach waits for the reader: end the reader then.
		waitFor(t, func() bool {
			return b.db.Int(t, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
				AND query LIKE '%DETACH PARTITION%CONCURRENTLY%'`) == 1
		})
		_ = holder.Rollback(ctx)
	}()
	r, err := runJob(t, b.cfg, b.limits)
	<-released
	require.NoError(t, err)
	require.Equal(t, 4, retries, "the plain detach was tried first")
	require.Equal(t, []string{"audit_future", "audit_straddle"}, partitionsOf(t, b, "audit"))
	require.False(t, tableExists(t, b, "audit_old"))
	require.EqualValues(t, 1, r.Counter("audit.partitions_dropped"))
}

// While a DETACH waits in the parent's lock queue, every query of the
// application on the table queues behind it. So the job asks for the
// parent's lock with NOWAIT and never waits in that queue while the table
// is merely busy: here a reader holds the table, the job's lock wait (a
// fifth of TargetBatchTime) would be an hour, and another session's read,
// which the reader does not block, must go through at once while the job
// is trying.
func TestDetachNeverQueuesAheadOfTheApplication(t *testing.T) {
	t.Parallel()
	b := setup(t, partSchema, `  - {table: events, column: created_at, keep: 10d}
`)
	b.cfg.AsOf = asOf
	fillPartitions(t, b)
	ctx := context.Background()
	holder := readerHolding(t, b, "events")
	b.limits.LockTimeout, b.cfg.TargetBatchTime = time.Hour, 5*time.Hour

	tried, resume := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	retention.SetParentBusyHook(&b.cfg, func() {
		if first.CompareAndSwap(false, true) {
			close(tried)
			<-resume
		}
	})
	type result struct {
		r   *jobs.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := runJob(t, b.cfg, b.limits)
		done <- result{r, err}
	}()
	// The job has made its first request: it was refused (new code), or
	// it waits in the queue (a plain DETACH with a lock_timeout).
	waitFor(t, func() bool {
		select {
		case <-tried:
			return true
		default:
		}
		return b.db.Int(t, "SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted") > 0
	})
	app, err := pgx.Connect(ctx, b.db.URL)
	require.NoError(t, err)
	defer app.Close(ctx)
	read := make(chan error, 1)
	go func() {
		_, err := app.Exec(ctx, "SELECT count(*) FROM events")
		read <- err
	}()
	var readErr error
	readDone := false
	waitFor(t, func() bool {
		select {
		case readErr = <-read:
			readDone = true
			return true
		default:
		}
		return b.db.Int(t, "SELECT cardinality(pg_blocking_pids($1))", app.PgConn().PID()) > 0
	})
	require.NoError(t, holder.Rollback(ctx))
	close(resume)
	res := <-done
	if !readDone {
		readErr = <-read // the job's lock request ended with the holder
	}
	require.True(t, readDone, "the application's read queued behind the job's lock request")
	require.NoError(t, readErr)
	require.NoError(t, res.err)
	require.Equal(t, []string{"events_default", "events_future"}, partitionsOf(t, b, "events"))
	require.EqualValues(t, 2, res.r.Counter("events.partitions_dropped"))
}

// A table's first run finds its whole history old: 40 weekly partitions
// here. They go in one DETACH transaction, so that the application's
// sessions replan once (32 at most per transaction made them replan twice).
func TestYearOfPartitionsDetachesInOneTransaction(t *testing.T) {
	t.Parallel()
	schema := strings.Replace(groupSchema, "FOR i IN 0..5 LOOP", "FOR i IN 0..39 LOOP", 1)
	schema = strings.ReplaceAll(schema, "2025-05-01 00:00+00", "2024-08-01 00:00+00")
	b := setup(t, schema, `  - {table: ev, column: at, keep: 10d}
`)
	b.cfg.AsOf = asOf
	_, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, []string{"ev_default"}, partitionsOf(t, b, "ev"))
	require.Equal(t, 40, b.db.Int(t, "SELECT count(*) FROM ddl_log WHERE tag = 'ALTER TABLE' AND object = 'public.ev'"))
	require.Equal(t, 1, b.db.Int(t, "SELECT count(DISTINCT txid) FROM ddl_log WHERE tag = 'ALTER TABLE' AND object = 'public.ev'"),
		"the 40 partitions are detached in one transaction")
}

// The parent stays locked until the DETACH transaction's commit returns:
// that commit does not wait for the WAL flush (synchronous_commit off).
func TestDetachCommitDoesNotWaitForTheDisk(t *testing.T) {
	t.Parallel()
	b := setup(t, groupSchema+`
CREATE TABLE commit_log (setting text);
CREATE FUNCTION log_commit() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
  INSERT INTO commit_log SELECT current_setting('synchronous_commit') FROM pg_event_trigger_ddl_commands() c
  WHERE c.command_tag = 'ALTER TABLE' AND c.object_identity = 'public.ev'; END $$;
CREATE EVENT TRIGGER log_commit ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION log_commit();
`, `  - {table: ev, column: at, keep: 10d}
`)
	b.cfg.AsOf = asOf
	// The test cluster commits without waiting for the disk: this
	// database's sessions do wait, as a production server's.
	b.db.Exec(t, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = on', current_database()); END $$")
	b.cfg.Pool.Reset()
	_, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, []string{"ev_default"}, partitionsOf(t, b, "ev"))
	require.Equal(t, 6, b.db.Int(t, "SELECT count(*) FROM commit_log"))
	require.Equal(t, 6, b.db.Int(t, "SELECT count(*) FROM commit_log WHERE setting = 'off'"))
}
