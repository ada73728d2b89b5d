package retention_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

const plainSchema = `
CREATE TABLE activity_log (id bigserial PRIMARY KEY, user_id int, created_at timestamptz, note text);
CREATE INDEX ON activity_log (created_at, id);
CREATE TABLE projects (id int PRIMARY KEY, deleted_at timestamptz);
CREATE TABLE email_events (id int PRIMARY KEY, kind text NOT NULL, sent_at timestamptz NOT NULL);
CREATE TABLE invoices (id int PRIMARY KEY, issued_on date NOT NULL);
CREATE TABLE nopk (created_at timestamp NOT NULL, v int);
CREATE TABLE local_times (id int PRIMARY KEY, at timestamp NOT NULL, at_tz timestamptz NOT NULL);
`

func TestCutoffIsStrictAndNullsStay(t *testing.T) {
	t.Parallel()
	b := setup(t, plainSchema, `  - {table: activity_log, column: created_at, keep: 90d}
  - {table: projects, column: deleted_at, keep: 30d}
`)
	b.cfg.AsOf = asOf
	cut := asOf.Add(-90 * 24 * time.Hour)
	for i, ts := range []any{cut.Add(-time.Microsecond), cut, cut.Add(time.Microsecond), nil, cut.Add(-400 * 24 * time.Hour)} {
		b.db.Exec(t, "INSERT INTO activity_log (id, created_at) VALUES ($1, $2)", i+1, ts)
	}
	pcut := asOf.Add(-30 * 24 * time.Hour)
	b.db.Exec(t, "INSERT INTO projects VALUES (1, NULL), (2, $1), (3, $2)", pcut, pcut.Add(-time.Hour))

	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, []int{2, 3, 4}, ids(t, b.db.Pool, "SELECT id FROM activity_log ORDER BY id"),
		"a row exactly at the cutoff is not older than it; NULL is never older")
	require.Equal(t, []int{1, 2}, ids(t, b.db.Pool, "SELECT id FROM projects ORDER BY id"))
	require.EqualValues(t, 2, r.Rows[jobs.RowKey("activity_log", "delete")])
	require.EqualValues(t, 1, r.Rows[jobs.RowKey("projects", "delete")])
	require.EqualValues(t, 0, r.Counter("rows_left"))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE job = 'retention' AND status = 'succeeded' AND report IS NOT NULL`),
		"the run is recorded")
}

// A database whose default time zone is not UTC must not change which rows
// of a timestamp (without time zone) column go: they are read as UTC.
func TestTimestampColumnsAreReadAsUTC(t *testing.T) {
	t.Parallel()
	b := setup(t, plainSchema, `  - {table: local_times, column: at, keep: 1d}
  - {table: nopk, column: created_at, keep: 1d}
`)
	b.db.Exec(t, "ALTER DATABASE "+b.db.Name+" SET timezone = 'Asia/Tokyo'")
	// A pool of its own: its sessions start with the database's Tokyo default.
	pool, err := pgxpool.New(context.Background(), b.db.URL)
	require.NoError(t, err)
	defer pool.Close()
	var tz string
	require.NoError(t, pool.QueryRow(context.Background(), "SHOW timezone").Scan(&tz))
	require.Equal(t, "Asia/Tokyo", tz)

	cut := asOf.Add(-24 * time.Hour) // 2025-06-14 12:00 UTC
	naive := func(d time.Duration) string { return cut.Add(d).Format("2006-01-02 15:04:05") }
	// Read as Tokyo time, id 2 and 3 would be 9h earlier and go too.
	b.db.Exec(t, `INSERT INTO local_times VALUES (1, $1, $4), (2, $2, $5), (3, $3, $6)`,
		naive(-time.Hour), naive(0), naive(time.Hour), cut.Add(-time.Hour), cut, cut.Add(time.Hour))
	b.db.Exec(t, `INSERT INTO nopk VALUES ($1, 1), ($1, 2), ($2, 3), ($3, 4)`, naive(-2*time.Hour), naive(0), naive(8*time.Hour))

	cfg := config(t, pool, `  - {table: local_times, column: at, keep: 1d}
  - {table: local_times, column: at_tz, keep: 1d}
  - {table: nopk, column: created_at, keep: 1d}
`)
	cfg.AsOf = asOf
	limits := testLimits()
	limits.BatchSize = 1 // nopk goes by (created_at, ctid) keyset over equal timestamps
	_, err = runJob(t, cfg, limits)
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, ids(t, b.db.Pool, "SELECT id FROM local_times ORDER BY id"))
	require.Equal(t, []int{3, 4}, ids(t, b.db.Pool, "SELECT v FROM nopk ORDER BY v"))
}

func TestWhereFilterAndRetain(t *testing.T) {
	t.Parallel()
	b := setup(t, plainSchema, `  - {table: email_events, column: sent_at, keep: 1y, where: {kind: marketing}}
  - {table: invoices, column: issued_on, retain: 10y}
`)
	b.cfg.AsOf = asOf
	old, recent := asOf.AddDate(-2, 0, 0), asOf.AddDate(0, -1, 0)
	b.db.Exec(t, `INSERT INTO email_events VALUES (1, 'marketing', $1), (2, 'receipt', $1), (3, 'marketing', $2), (4, 'receipt', $2)`, old, recent)
	b.db.Exec(t, `INSERT INTO invoices VALUES (1, $1), (2, $2), (3, $3)`,
		asOf.AddDate(-11, 0, 0), asOf.AddDate(-9, 0, 0), asOf.AddDate(-10, 0, -3))

	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, []int{2, 3, 4}, ids(t, b.db.Pool, "SELECT id FROM email_events ORDER BY id"))
	require.Equal(t, []int{2}, ids(t, b.db.Pool, "SELECT id FROM invoices ORDER BY id"), "kept invoices go after retain: 10y (3650 days)")
	require.EqualValues(t, 2, r.Rows[jobs.RowKey("invoices", "delete")])
}

func TestBatchesWalkTheKeysetAndReport(t *testing.T) {
	t.Parallel()
	b := setup(t, plainSchema, `  - {table: activity_log, column: created_at, keep: 90d}
`)
	b.db.Exec(t, `INSERT INTO activity_log (user_id, created_at)
		SELECT g % 7, now() - (g % 200) * interval '1 day' FROM generate_series(1, 3000) g`)
	want := b.db.Int(t, "SELECT count(*) FROM activity_log WHERE created_at >= now() - interval '90 days' + interval '1 minute'")
	b.limits.BatchSize, b.cfg.MaxBatchSize = 50, 400
	b.cfg.BlockRangeFraction = 2 // keyset batches only
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, want, b.db.Int(t, "SELECT count(*) FROM activity_log"))
	require.EqualValues(t, 3000-want, r.Rows[jobs.RowKey("activity_log", "delete")])
	require.GreaterOrEqual(t, r.Counter("activity_log.batches"), int64(5))
	require.Greater(t, r.Counter("activity_log.longest_transaction_ms"), int64(-1))
}

func TestBudgetStopsCleanlyAndReportsRowsLeft(t *testing.T) {
	t.Parallel()
	b := setup(t, plainSchema, `  - {table: activity_log, column: created_at, keep: 90d}
`)
	b.db.Exec(t, `INSERT INTO activity_log (created_at) SELECT now() - interval '1 year' FROM generate_series(1, 500)`)
	b.limits.BatchSize, b.cfg.MaxBatchSize = 10, 10
	b.cfg.BlockRangeFraction = 2 // keyset batches only
	b.limits.TimeBudget = time.Minute
	stopAfter(&b.cfg, &b.limits, 5) // the budget runs out during the fifth batch
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	left := b.db.Int(t, "SELECT count(*) FROM activity_log")
	require.Greater(t, left, 0)
	require.Less(t, left, 500)
	require.EqualValues(t, left, r.Counter("rows_left"))
	require.EqualValues(t, 1, r.Counter("budget_exhausted"))
	require.EqualValues(t, 5, r.Counter("activity_log.batches"), "no batch starts once the budget is spent")
	// The rows left are a year old and kept 90 days: 275 days past
	// their cutoff, and the seconds between the insert and the run.
	overdue := time.Duration(r.Counter("activity_log.oldest_overdue_seconds")) * time.Second
	require.GreaterOrEqual(t, overdue, 275*24*time.Hour)
	require.Less(t, overdue, 275*24*time.Hour+time.Hour)
	require.Equal(t, r.Counter("activity_log.oldest_overdue_seconds"), r.Counter("oldest_overdue_seconds"))

	retention.SetTestHooks(&b.cfg, nil, nil)
	r, err = runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, 0, b.db.Int(t, "SELECT count(*) FROM activity_log"))
	require.Zero(t, r.Counter("activity_log.rows_left"))
	require.Zero(t, r.Counter("activity_log.oldest_overdue_seconds"), "nothing left past the cutoff")
}

func TestInvalidRulesChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, plainSchema+`
CREATE MATERIALIZED VIEW recent_activity AS SELECT * FROM activity_log;`, `  - {table: activity_log, column: created_at, keep: 90d}
  - {table: missing_table, column: created_at, keep: 90d}
  - {table: recent_activity, column: created_at, keep: 90d}
  - {table: activity_log, column: note, keep: 90d}
  - {table: activity_log, column: nope, keep: 90d}
  - {table: email_events, column: sent_at, keep: 1y, where: {kind: marketing, missing: x}}
  - {table: invoices, column: issued_on, keep: 1y, where: {id: not-a-number}}
`)
	b.db.Exec(t, `INSERT INTO activity_log (created_at) VALUES (now() - interval '1 year')`)
	before := b.db.Snapshot(t, "public")
	_, err := runJob(t, b.cfg, b.limits)
	require.Error(t, err)
	require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err))
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Problems, 6, "%v", err)
	for _, p := range pe.Problems {
		require.Positive(t, p.Line, p.Msg)
	}
	require.Contains(t, err.Error(), "missing_table does not exist")
	require.Contains(t, err.Error(), "recent_activity is a materialized view, not a table")
	require.Contains(t, err.Error(), "column note is text")
	require.Contains(t, err.Error(), "not a valid integer")
	require.Equal(t, before, b.db.Snapshot(t, "public"))
}

func TestConcurrentRunsShareTheWork(t *testing.T) {
	t.Parallel()
	schema := `CREATE TABLE a (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE b (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE c (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE INDEX ON a (at); CREATE INDEX ON b (at); CREATE INDEX ON c (at);`
	b := setup(t, schema, `  - {table: a, column: at, keep: 1d}
  - {table: b, column: at, keep: 1d}
  - {table: c, column: at, keep: 1d}
`)
	for _, tbl := range []string{"a", "b", "c"} {
		b.db.Exec(t, "INSERT INTO "+tbl+" SELECT g, now() - (g % 3) * interval '1 day' - interval '1 hour' FROM generate_series(1, 1500) g")
	}
	old := 3 * b.db.Int(t, "SELECT count(*) FROM a WHERE at < now() - interval '1 day'")
	b.limits.BatchSize, b.cfg.MaxBatchSize = 50, 50
	b.cfg.BlockRangeFraction = 2 // keyset batches
	// The first run holds table a, waiting before its first batch, while
	// the second run does its whole work; then the first goes on.
	first := b.cfg
	holding, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	retention.SetTestHooks(&first, func() { once.Do(func() { close(holding); <-release }) }, nil)
	type result struct {
		r   *jobs.Report
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := runJob(t, first, b.limits)
		ch <- result{r, err}
	}()
	<-holding
	r2, err := runJob(t, b.cfg, b.limits)
	close(release)
	r1 := <-ch
	var deleted, skipped int64
	for _, res := range []result{r1, {r2, err}} {
		require.NoError(t, res.err)
		for _, n := range res.r.Rows {
			deleted += n
		}
		skipped += res.r.Counter("tables_skipped")
	}
	require.EqualValues(t, old, deleted, "every old row deleted exactly once")
	require.Positive(t, skipped, "the second run skips a table the first is working on")
	for _, tbl := range []string{"a", "b", "c"} {
		require.Equal(t, 0, b.db.Int(t, "SELECT count(*) FROM "+tbl+" WHERE at < now() - interval '1 day'"))
	}
}

func ids(t *testing.T, pool *pgxpool.Pool, sql string) []int {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql)
	require.NoError(t, err)
	var out []int
	for rows.Next() {
		var n int
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}
