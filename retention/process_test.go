package retention_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

func letheCmd(t *testing.T, db *pgtest.DB, policyYAML string, env ...string) *exec.Cmd {
	t.Helper()
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(pol, []byte(subjectYAML+"retention:\n"+policyYAML), 0o600))
	cmd := exec.Command(letheproc.Binary(t), "--job", "retention", "--log-format", "text", "--log-level", "debug")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LETHE_DATABASE_URL=" + db.URL, "LETHE_POLICY=" + pol}, env...)
	return cmd
}

const killSchema = `
CREATE TABLE activity_log (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, note text);
CREATE INDEX ON activity_log (created_at, id);
`

// A run killed with SIGKILL mid-way leaves only whole batches done; the
// rerun reaches the same end state as an uninterrupted run.
func TestKilledRunThenRerun(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, killSchema)
	db.Exec(t, `INSERT INTO activity_log (created_at, note)
		SELECT now() - (g % 120) * interval '1 day' - interval '1 hour', 'n' || g FROM generate_series(1, 1200) g`)
	// 20 000 recent rows more, analyzed: the expired share (1.4%) is small
	// enough for keyset batches, whose size the test sets.
	db.Exec(t, `INSERT INTO activity_log (created_at, note) SELECT now(), 'recent' FROM generate_series(1, 20000);
		ANALYZE activity_log`)
	const total = 21200
	keptCount := db.Int(t, "SELECT count(*) FROM activity_log WHERE created_at >= now() - interval '90 days'")
	// Every batch after the first two waits, its rows deleted but not
	// committed, on an advisory lock the test holds: the kill lands there.
	db.Exec(t, `CREATE SEQUENCE batches;
		CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF nextval('batches') > 2 THEN PERFORM pg_advisory_xact_lock(4242); END IF; RETURN NULL; END $$;
		CREATE TRIGGER gate AFTER DELETE ON activity_log FOR EACH STATEMENT EXECUTE FUNCTION gate()`)
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	defer holder.Close(ctx)
	_, err = holder.Exec(ctx, "SELECT pg_advisory_lock(4242)")
	require.NoError(t, err)
	rules := `  - {table: activity_log, column: created_at, keep: 90d}
`
	cmd := letheCmd(t, db, rules, "LETHE_BATCH_SIZE=20", "LETHE_LOCK_TIMEOUT=1h", "LETHE_STATEMENT_TIMEOUT=1h")
	var out letheproc.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	var waiting int
	waitFor(t, func() bool {
		return db.Pool.QueryRow(ctx, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted").Scan(&waiting) == nil
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	t.Logf("killed lethe:\n%s", out.String())
	// The killed run's session waits on; end it (its batch rolls back).
	db.Exec(t, "SELECT pg_terminate_backend($1)", waiting)
	waitFor(t, func() bool { return db.Int(t, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", waiting) == 0 })
	mid := db.Int(t, "SELECT count(*) FROM activity_log")
	require.Greater(t, mid, keptCount, "the kill must land before the end")
	// Only whole batches were committed: the two logged before the kill
	// (their size adapts, from 20), and nothing of the one in flight.
	done := regexp.MustCompile(`msg="batch done" .* rows=(\d+) `).FindAllStringSubmatch(out.String(), -1)
	require.Len(t, done, 2, "%s", out.String())
	committed := 0
	for _, m := range done {
		n, _ := strconv.Atoi(m[1])
		committed += n
	}
	require.Equal(t, total-committed, mid, "only whole batches were committed")
	require.Equal(t, keptCount, db.Int(t, "SELECT count(*) FROM activity_log WHERE created_at >= now() - interval '90 days'"))

	db.Exec(t, "DROP TRIGGER gate ON activity_log")
	cmd = letheCmd(t, db, rules, "LETHE_BATCH_SIZE=20")
	out2, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out2)
	require.Equal(t, keptCount, db.Int(t, "SELECT count(*) FROM activity_log"))
	require.Equal(t, 0, db.Int(t, "SELECT count(*) FROM activity_log WHERE created_at < now() - interval '90 days'"))
}

func TestInvalidRuleExitsTwo(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, killSchema)
	db.Exec(t, `INSERT INTO activity_log (created_at) SELECT now() - g * interval '1 day' FROM generate_series(1, 200) g`)
	before := db.Snapshot(t, "public")
	cmd := letheCmd(t, db, `  - {table: activity_log, column: created_at, keep: 90d}
  - {table: activity_log, column: note, keep: 90d}
`)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	require.Equal(t, jobs.ExitConfig, ee.ExitCode(), "%s", out)
	require.Contains(t, string(out), "line 8: retention rule for activity_log: column note is text")
	require.Equal(t, before, db.Snapshot(t, "public"))
}
