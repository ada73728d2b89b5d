package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/stretchr/testify/require"
)

// TestRetentionOnlyPolicy: subject: used to be required even when only
// retention: was used. Now each job needs only its own sections, and a
// job whose section is missing is a clear exit 2 that changes nothing.
func TestRetentionOnlyPolicy(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 50)
	db.Exec(t, `INSERT INTO activity_log (user_id, action, created_at)
		SELECT id, 'old', now() - interval '200 days' FROM users LIMIT 5`)
	old := db.Int(t, `SELECT count(*) FROM activity_log WHERE created_at < now() - interval '90 days'`)
	require.Positive(t, old)
	pol := filepath.Join(t.TempDir(), "retention.yaml")
	require.NoError(t, os.WriteFile(pol, []byte("retention:\n  - table: activity_log\n    column: created_at\n    keep: 90d\n"), 0o600))

	r := lethe(t, env, "check", "--policy", pol)
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "checked against the database: retention")

	before := db.Snapshot(t, "public", "billing")
	for job, want := range map[string]string{
		"purge":      "the purge job needs a subject: section",
		"inactivity": "the inactivity job needs a subject: section and an inactivity: section",
		"orphans":    "the orphans job needs an orphans: section",
	} {
		r = lethe(t, env, "--job", job, "--policy", pol)
		require.Equal(t, 2, r.Code, job)
		require.Contains(t, r.Stderr, want, job)
	}
	r = lethe(t, env, "erase", "--subject", jobtest.MD5UUID("user1"), "--confirm", "--policy", pol)
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "lethe erase needs a subject: section")
	require.Equal(t, before, db.Snapshot(t, "public", "billing"))

	r = lethe(t, env, "--job", "retention", "--policy", pol)
	require.Equal(t, 0, r.Code)
	require.Zero(t, db.Int(t, `SELECT count(*) FROM activity_log WHERE created_at < now() - interval '90 days'`))
}

// TestCheckReportsEverySectionAtOnce: lethe check used to stop at the
// purge's problems and say nothing of the retention rules until those were
// fixed.
func TestCheckReportsEverySectionAtOnce(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 20)
	src := strings.Replace(readFile(t, "examples/policy.yaml"), "table: sessions\n", "table: sesions\n", 1)
	src = strings.Replace(src, "  - table: activity_log\n    column: created_at\n", "  - table: activity_logs\n    column: created_at\n", 1)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(pol, []byte(src), 0o600))
	r := lethe(t, env, "check", "--policy", pol)
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "table sesions does not exist")
	require.Contains(t, r.Stderr, "retention: table activity_logs does not exist")
}
