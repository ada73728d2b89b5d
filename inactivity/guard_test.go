package inactivity_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/lethe-project/lethe/inactivity"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// TestDryRunChangesNothing: counts to warn, to request and to close, in a
// read-only transaction, with no lethe schema created.
func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	b.user("a", 400)
	b.user("b", 400)
	b.user("c", 10)
	before := b.db.Snapshot(t, "public", "billing")
	r, code := b.runLimits(jobs.Limits{DryRun: true}, func(c *inactivity.Config) { c.Hasher = nil })
	require.Equal(t, 0, code)
	require.EqualValues(t, 2, r.Counter("to_warn"))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'lethe'`))
	require.Empty(t, b.hook.requests())
	require.Equal(t, before, b.db.Snapshot(t, "public", "billing"))

	_, code = b.run()
	require.Equal(t, 0, code)
	b.advance(31 * day)
	b.db.Exec(t, `UPDATE users SET last_active_at = now() WHERE id = $1`, jobtest.MD5UUID("b"))
	before = b.db.Snapshot(t, "public", "billing", "lethe")
	r, code = b.runLimits(jobs.Limits{DryRun: true})
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, r.Counter("to_request"))
	require.EqualValues(t, 1, r.Counter("to_close"))
	require.Zero(t, r.Counter("to_warn"))
	require.Equal(t, before, b.db.Snapshot(t, "public", "billing", "lethe"))
}

// TestGuardRefusesLargeRuns on both steps, before any change.
func TestGuardRefusesLargeRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	for i := range 5 {
		b.user(fmt.Sprint("u", i), 400)
	}
	_, code := b.runLimits(jobs.Limits{MaxSubjects: 4})
	require.Equal(t, jobs.ExitGuard, code, "warning step")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'lethe'`))
	require.Empty(t, b.hook.requests())

	r, code := b.runLimits(jobs.Limits{MaxSubjects: 4, AllowLarge: true})
	require.Equal(t, 0, code)
	require.EqualValues(t, 5, r.Counter("warned"))
	b.advance(31 * day)
	_, code = b.runLimits(jobs.Limits{MaxSubjects: 4})
	require.Equal(t, jobs.ExitGuard, code, "deletion step")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE deleted_at IS NOT NULL`))
}

// TestConfigProblemsExit2 names each problem found against the catalog and
// the environment before anything changes.
func TestConfigProblemsExit2(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook", "smtp")
	b.pol.Inactivity.LastActive, _ = policy.ParseIdent("last_seen")
	b.pol.Inactivity.Email, _ = policy.ParseIdent("created_at")
	j, err := inactivity.New(b.config(func(c *inactivity.Config) { c.WebhookSecret = ""; c.SMTPURL = "" }))
	require.NoError(t, err)
	_, err = jobtest.Run(t, roletest.Pool(t, b.db, b.pol), j, jobs.Limits{})
	require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err))
	for _, want := range []string{"column last_seen does not exist", "column created_at of users is timestamp with time zone, want a text column",
		"LETHE_WEBHOOK_SECRET is not set", "LETHE_SMTP_URL is not set"} {
		require.Contains(t, err.Error(), want)
	}
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'lethe'`))
}

// TestConcurrentRunsWarnOnce: three runs at once, small batches: every
// subject gets exactly one notice and one webhook.
func TestConcurrentRunsWarnOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	b.db.Exec(t, `INSERT INTO users (id, email, name, last_active_at)
		SELECT md5('c' || i)::uuid, 'c' || i || '@example.com', 'C ' || i, now() - interval '400 days'
		FROM generate_series(1, 120) i`)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Go(func() {
			_, codes[i] = b.runLimits(jobs.Limits{BatchSize: 7, AllowLarge: true})
		})
	}
	wg.Wait()
	require.Equal(t, []int{0, 0, 0}, codes)
	require.Equal(t, 120, b.db.Int(t, `SELECT count(*) FROM lethe.notices WHERE status = 'sent'`))
	reqs := b.hook.requests()
	require.Len(t, reqs, 120, "one webhook per subject")
	seen := map[string]bool{}
	for _, q := range reqs {
		require.False(t, seen[q.ev.SubjectKey])
		seen[q.ev.SubjectKey] = true
	}
}
