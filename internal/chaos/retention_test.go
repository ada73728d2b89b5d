package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retentionSchema has a plain table (keyset or block-range batches), a
// table partitioned by day without a default partition (DETACH ...
// CONCURRENTLY), and a pg_partman table (with its default partition: plain
// DETACH and DROP).
const retentionSchema = `
CREATE TABLE activity_log (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, note text);
CREATE INDEX ON activity_log (created_at, id);
CREATE TABLE events (id bigint NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (created_at, id))
	PARTITION BY RANGE (created_at);
DO $$ BEGIN
	FOR d IN 0..29 LOOP
		EXECUTE format('CREATE TABLE events_d%s PARTITION OF events FOR VALUES FROM (%L) TO (%L)', d,
			date_trunc('day', now()) - (d + 1) * interval '1 day', date_trunc('day', now()) - d * interval '1 day');
	END LOOP;
	EXECUTE format('CREATE TABLE events_next PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
		date_trunc('day', now()), date_trunc('day', now()) + interval '30 days');
END $$;
`

const partmanSchema = `
CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;
CREATE TABLE page_views (id bigint NOT NULL, viewed_at timestamptz NOT NULL, PRIMARY KEY (viewed_at, id))
	PARTITION BY RANGE (viewed_at);
SELECT partman.create_parent('public.page_views', 'viewed_at', 'native', 'daily',
	p_premake := 3, p_start_partition := (date_trunc('day', now()) - interval '20 days')::text);
`

const subjectSection = `subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30d
`

// retentionTable is one table under a rule: rows older than keep go.
// The rows that must stay are all at least two hours newer than the
// cutoff of any run in the test, and expired ones at least two hours
// older, so that no row crosses it while the test runs.
type retentionTable struct {
	name, column, keep string
}

type retentionWorld struct {
	t        *testing.T
	db       *pgtest.DB
	env      []string
	tables   []retentionTable
	keptSums map[string][2]int
}

func newRetentionWorld(t *testing.T) *retentionWorld {
	t.Helper()
	schema, rules := retentionSchema, ""
	probe := pgtest.NewDB(t, "SELECT 1")
	partman := probe.Int(t, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_partman'") > 0
	if !partman && os.Getenv("LETHE_REQUIRE_TOOLS") != "" {
		t.Fatal("pg_partman is not installed (scripts/install-partman.sh)")
	}
	w := &retentionWorld{t: t, keptSums: map[string][2]int{}}
	w.tables = []retentionTable{
		{name: "activity_log", column: "created_at", keep: "90d"},
		{name: "events", column: "created_at", keep: "10d"},
	}
	if partman {
		schema += partmanSchema
		w.tables = append(w.tables, retentionTable{name: "page_views", column: "viewed_at", keep: "5d"})
	} else {
		t.Log("pg_partman is not installed: the partman table is left out (scripts/install-partman.sh)")
	}
	schema += "CREATE TABLE users (id uuid PRIMARY KEY, deleted_at timestamptz);\n"
	w.db = pgtest.NewDB(t, schema)
	w.db.Exec(t, `INSERT INTO activity_log (created_at, note)
		SELECT now() - interval '200 days' - g * interval '1 minute', 'old' FROM generate_series(1, 600) g;
		INSERT INTO activity_log (created_at, note)
		SELECT now() - (g % 80) * interval '1 day', 'new' FROM generate_series(1, 400) g;
		INSERT INTO events SELECT g, now() - g * interval '1 hour' FROM generate_series(1, 29 * 24) g
		WHERE abs(g - 240) > 2`)
	if partman {
		w.db.Exec(t, `INSERT INTO page_views SELECT g, now() - g * interval '1 hour' FROM generate_series(1, 19 * 24) g
			WHERE abs(g - 120) > 2`)
	}
	w.db.Exec(t, "ANALYZE")
	for _, tb := range w.tables {
		rules += fmt.Sprintf("  - {table: %s, column: %s, keep: %s}\n", tb.name, tb.column, tb.keep)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(subjectSection+"retention:\n"+rules), 0o600))
	w.env = []string{"LETHE_DATABASE_URL=" + w.db.URL, "LETHE_POLICY=" + path, "LETHE_BATCH_SIZE=25"}
	for _, tb := range w.tables {
		w.keptSums[tb.name] = w.sums(tb, ">=")
	}
	return w
}

// sums counts and sums the ids of tb's rows on one side of its cutoff
// (">=": kept, "<": expired), taken now with a two-hour margin.
func (w *retentionWorld) sums(tb retentionTable, op string) [2]int {
	w.t.Helper()
	margin := "- interval '2 hours'"
	if op == ">=" {
		margin = "+ interval '2 hours'"
	}
	days := strings.TrimSuffix(tb.keep, "d")
	var n, sum int
	q := fmt.Sprintf(`SELECT count(*), COALESCE(sum(id), 0) FROM %s WHERE %s %s now() - interval '%s days' %s`,
		pgx.Identifier{tb.name}.Sanitize(), pgx.Identifier{tb.column}.Sanitize(), op, days, margin)
	require.NoError(w.t, w.db.Pool.QueryRow(context.Background(), q).Scan(&n, &sum))
	return [2]int{n, sum}
}

// check: kept rows are all there, always; after a rerun no expired row,
// no partition left detach-pending, no detached table left, and no run
// left running.
func (w *retentionWorld) check(stage string, final bool) {
	t := w.t
	t.Helper()
	var problems []string
	for _, tb := range w.tables {
		if got := w.sums(tb, ">="); got != w.keptSums[tb.name] {
			problems = append(problems, fmt.Sprintf("%s: kept rows (count, sum of ids) %v, want %v", tb.name, got, w.keptSums[tb.name]))
		}
		if final {
			if got := w.sums(tb, "<"); got[0] != 0 {
				problems = append(problems, fmt.Sprintf("%s: %d expired row(s) left after a rerun", tb.name, got[0]))
			}
		}
	}
	pending := w.db.Int(t, `SELECT count(*) FROM pg_inherits WHERE inhdetachpending`)
	leftover := w.db.Int(t, `SELECT count(*) FROM pg_class WHERE obj_description(oid, 'pg_class') LIKE 'lethe retention:%'`)
	t.Logf("%s: %d partition(s) detach-pending, %d marked to be dropped, %d inheritance rows", stage, pending, leftover,
		w.db.Int(t, `SELECT count(*) FROM pg_inherits`))
	if final {
		if n := pending; n > 0 {
			problems = append(problems, fmt.Sprintf("%d partition(s) left detach-pending after a rerun", n))
		}
		if n := leftover; n > 0 {
			problems = append(problems, fmt.Sprintf("%d detached partition(s) left undropped after a rerun", n))
		}
		if n := w.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'running'`); n > 0 {
			problems = append(problems, fmt.Sprintf("%d run(s) still 'running' after a rerun", n))
		}
	}
	assert.Empty(t, problems, "%s: invariants broken (seed %d)", stage, seed)
}

// partitionRows counts the rows of each attached partition of the
// partitioned tables.
func (w *retentionWorld) partitionRows() map[string]int {
	w.t.Helper()
	rows, err := w.db.Pool.Query(context.Background(), `SELECT c.relname, p.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE NOT i.inhdetachpending AND p.relname IN ('events', 'page_views')`)
	require.NoError(w.t, err)
	type part struct{ Name, Parent string }
	parts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[part])
	require.NoError(w.t, err)
	out := map[string]int{}
	for _, p := range parts {
		out[p.Parent+"/"+p.Name] = w.db.Int(w.t, "SELECT count(*) FROM "+pgx.Identifier{p.Name}.Sanitize())
	}
	return out
}

// killBlockedDetach holds a transaction that has read events, so that
// DETACH ... CONCURRENTLY, once its first transaction has marked the
// partition detach-pending, waits for it; then kills lethe there. It
// returns false when lethe ended without detaching anything (all done).
func (w *retentionWorld) killBlockedDetach() bool {
	t := w.t
	t.Helper()
	ctx := context.Background()
	holder, err := w.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = holder.Rollback(ctx) }()
	var n, hpid int
	require.NoError(t, holder.QueryRow(ctx, "SELECT count(*), pg_backend_pid() FROM events").Scan(&n, &hpid))
	p := startLethe(t, w.env, "--job", "retention")
	deadline := time.Now().Add(2 * time.Minute)
	for w.db.Int(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lethe'
			AND $2 = ANY(pg_blocking_pids(pid))`, w.db.Name, hpid) == 0 {
		if p.exited() {
			t.Logf("lethe ended without waiting for the reader → %d", p.wait(t))
			return false
		}
		require.True(t, time.Now().Before(deadline), "lethe never waited for the reader:\n%s", p.out.String())
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	p.wait(t)
	waitSessionsGone(t, w.db)
	require.NoError(t, holder.Rollback(ctx))
	return true
}

// checkRerunReport runs lethe to its end and compares the rows its report
// says it deleted with the rows that went: from the plain table, and from
// the partitions that stayed (rows of dropped partitions are reported as
// the planner's estimate, not checked here).
func (w *retentionWorld) checkRerunReport() {
	t := w.t
	t.Helper()
	before := w.db.Int(t, "SELECT count(*) FROM activity_log")
	parts := w.partitionRows()
	code, out := runLethe(t, w.env, "--job", "retention")
	require.Equal(t, 0, code, out)
	deleted := map[string]int64{"activity_log": int64(before - w.db.Int(t, "SELECT count(*) FROM activity_log"))}
	for name, n := range w.partitionRows() {
		if was, ok := parts[name]; ok {
			deleted[strings.Split(name, "/")[0]] += int64(was - n)
		}
	}
	reported := reportedRows(t, out)
	for _, tb := range w.tables {
		assert.Equal(t, deleted[tb.name], reported[tb.name+" delete"], "%s: rows the rerun reports deleted (seed %d)", tb.name, seed)
	}
}

// reportedRows reads the rows of the "run finished" (or "run failed") log
// line: "table action" → rows.
func reportedRows(t *testing.T, out string) map[string]int64 {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `"msg":"run finished"`) && !strings.Contains(line, `"msg":"run failed"`) {
			continue
		}
		var l struct {
			Rows []struct {
				Table, Action string
				Rows          int64
			} `json:"rows"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &l))
		m := map[string]int64{}
		for _, r := range l.Rows {
			m[r.Table+" "+r.Action] += r.Rows
		}
		return m
	}
	t.Fatalf("no summary line in:\n%s", out)
	return nil
}

// TestRetentionKilledAtRandomPoints kills the retention job at seeded
// random points of its batches, partition detaches (concurrent and plain)
// and drops.
func TestRetentionKilledAtRandomPoints(t *testing.T) {
	t.Parallel()
	rng := rngFor(t)
	landed := 0
	for round := 0; landed < 20 && round < 6; round++ {
		w := newRetentionWorld(t)
		tables := []string{"activity_log", "events"}
		if len(w.tables) > 2 {
			tables = append(tables, "page_views")
		}
		installTrap(t, w.db, tables...)
		tr := newTrap(t, w.db)
		if w.killBlockedDetach() {
			landed++
		}
		w.check(fmt.Sprintf("round %d, after a kill during DETACH CONCURRENTLY", round), false)
		for range 10 {
			ok := kill(t, tr, rng, 25, w.env, "--job", "retention")
			w.check(fmt.Sprintf("round %d, after a kill", round), false)
			if !ok {
				break // the run ended: nothing left to interrupt
			}
			landed++
		}

		w.checkRerunReport()
		w.check(fmt.Sprintf("round %d, after the rerun", round), true)
	}
	require.GreaterOrEqual(t, landed, 20, "kills that landed while lethe ran")
}
