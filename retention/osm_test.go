package retention_test

import (
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/fixtures"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

// osmSchema is the OpenStreetMap website's schema (fixtures.OSMSchema),
// plus the column the subject: section every policy has needs.
func osmSchema(t *testing.T) string {
	return fixtures.OSMSchema(t, "ALTER TABLE public.users ADD COLUMN deletion_requested_at timestamp;")
}

// On a real application's schema (OpenStreetMap's OAuth tables: timestamps
// without time zone, read as UTC; no index on revoked_at; tokens never
// revoked have none), a retention run that runs out of budget reports the
// revoked tokens it left and how far past their cutoff the oldest is (what
// lethe_retention_oldest_overdue_seconds and LetheRetentionOverdue read),
// and the next run finishes: every token revoked more than 30 days ago
// goes, no other.
func TestOSMRevokedTokensRetention(t *testing.T) {
	t.Parallel()
	b := setup(t, osmSchema(t), `  - {table: oauth_access_tokens, column: revoked_at, keep: 30d}
  - {table: oauth_access_grants, column: revoked_at, keep: 30d}
`)
	b.db.Exec(t, `INSERT INTO users (id, email, pass_crypt, creation_time, display_name)
		VALUES (1, 'mapper@example.org', 'x', now(), 'mapper')`)
	b.db.Exec(t, `INSERT INTO oauth_applications (id, owner_type, owner_id, name, uid, secret, redirect_uri, created_at, updated_at)
		VALUES (1, 'User', 1, 'editor', 'uid', 'secret', 'urn:ietf:wg:oauth:2.0:oob', now(), now())`)
	// 100 tokens never revoked, 100 revoked ten days ago, 100 a year ago
	// (UTC), in that order on disk.
	b.db.Exec(t, `INSERT INTO oauth_access_tokens (id, resource_owner_id, application_id, token, revoked_at, created_at)
		SELECT g, 1, 1, 'token' || g,
		       CASE WHEN g > 200 THEN (now() AT TIME ZONE 'UTC') - interval '1 year'
		            WHEN g > 100 THEN (now() AT TIME ZONE 'UTC') - interval '10 days' END,
		       (now() AT TIME ZONE 'UTC') - interval '2 years'
		FROM generate_series(1, 300) g`)
	b.db.Exec(t, `INSERT INTO oauth_access_grants (id, resource_owner_id, application_id, token, expires_in, redirect_uri, created_at, revoked_at)
		SELECT g, 1, 1, 'grant' || g, 600, 'urn:ietf:wg:oauth:2.0:oob', (now() AT TIME ZONE 'UTC') - interval '2 years',
		       CASE WHEN g <= 5 THEN (now() AT TIME ZONE 'UTC') - interval '40 days' END
		FROM generate_series(1, 10) g`)
	// No index starts with revoked_at: block ranges, one block each here,
	// and the budget runs out in the second, before the old tokens.
	b.cfg.TargetBatchTime = time.Microsecond
	b.limits.TimeBudget = time.Minute
	stopAfter(&b.cfg, &b.limits, 2)
	r, err := runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.EqualValues(t, 2, r.Counter("oauth_access_tokens.blocks_walked"))
	left := b.db.Int(t, "SELECT count(*) FROM oauth_access_tokens WHERE revoked_at < (now() AT TIME ZONE 'UTC') - interval '30 days'")
	require.Positive(t, left)
	require.EqualValues(t, left, r.Counter("oauth_access_tokens.rows_left"))
	overdue := time.Duration(r.Counter("oauth_access_tokens.oldest_overdue_seconds")) * time.Second
	require.GreaterOrEqual(t, overdue, 335*24*time.Hour, "a year old, kept 30 days")
	require.Less(t, overdue, 335*24*time.Hour+time.Hour)
	require.EqualValues(t, 5, r.Counter("oauth_access_grants.rows_left"), "not reached")
	grants := time.Duration(r.Counter("oauth_access_grants.oldest_overdue_seconds")) * time.Second
	require.GreaterOrEqual(t, grants, 10*24*time.Hour)
	require.Less(t, grants, 10*24*time.Hour+time.Hour)

	retention.SetTestHooks(&b.cfg, nil, nil)
	b.limits.Clock = nil
	r, err = runJob(t, b.cfg, b.limits)
	require.NoError(t, err)
	require.Equal(t, 200, b.db.Int(t, "SELECT count(*) FROM oauth_access_tokens"), "the recent and the live tokens stay")
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM oauth_access_tokens WHERE revoked_at < (now() AT TIME ZONE 'UTC') - interval '30 days'"))
	require.Equal(t, 5, b.db.Int(t, "SELECT count(*) FROM oauth_access_grants"))
	for _, table := range []string{"oauth_access_tokens", "oauth_access_grants"} {
		require.Zero(t, r.Counter(jobs.Counter(table+".rows_left")))
		require.Zero(t, r.Counter(jobs.Counter(table+".oldest_overdue_seconds")))
	}
}
