package retention_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
	// Slow every batch down so that the kill lands mid-run.
	db.Exec(t, `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$;
		CREATE TRIGGER slow AFTER DELETE ON activity_log FOR EACH STATEMENT EXECUTE FUNCTION slow()`)
	rules := `  - {table: activity_log, column: created_at, keep: 90d}
`
	cmd := letheCmd(t, db, rules, "LETHE_BATCH_SIZE=20")
	var out letheproc.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for db.Int(t, "SELECT count(*) FROM activity_log") > total-40 {
		require.True(t, time.Now().Before(deadline), "no batch committed: %s", out.String())
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	mid := db.Int(t, "SELECT count(*) FROM activity_log")
	require.Greater(t, mid, keptCount, "the kill must land before the end")
	require.Zero(t, (total-mid)%20, "only whole batches of 20 were committed")
	require.Equal(t, keptCount, db.Int(t, "SELECT count(*) FROM activity_log WHERE created_at >= now() - interval '90 days'"))

	db.Exec(t, "DROP TRIGGER slow ON activity_log")
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
