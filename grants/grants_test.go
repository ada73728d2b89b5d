package grants_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/stretchr/testify/require"
)

// applyGrants prints the script with lethe grants (as the administrator)
// and runs it.
func (b *bundle) applyGrants() string { return b.applyGrantsWith(b.env) }

func (b *bundle) applyGrantsWith(env []string) string {
	r := b.lethe(env, "grants", "--role", b.role)
	require.Equal(b.t, 0, r.Code, r.Stderr)
	b.t.Logf("script:\n%s", r.Stdout)
	b.db.Exec(b.t, r.Stdout)
	return r.Stdout
}

// requireDenied checks that sql, run as the role, fails with
// insufficient_privilege (42501).
func requireDenied(t *testing.T, conn interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, sql string) {
	t.Helper()
	_, err := conn.Exec(context.Background(), sql)
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), "%s: want 42501, got %v", sql, err)
	require.Equal(t, "42501", pe.Code, "%s: %s", sql, pe.Message)
}

// The acceptance runs of every job succeed as the generated role and do
// their work, and the role can touch nothing outside the policy.
func TestGeneratedRoleRunsEveryJobAndReachesNothingElse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	db := b.db
	// Inactivity: three accounts idle for over a year; orphans: an old
	// organization without members (with a note), one with a member, and
	// a pending invitation from an account being erased.
	db.Exec(t, `UPDATE users SET last_active_at = now() - interval '400 days'
		WHERE deleted_at IS NULL AND NOT legal_hold AND email IN ('user1@example.com', 'user2@example.com', 'user3@example.com')`)
	db.Exec(t, `INSERT INTO organizations (id, name, created_at) VALUES
		(md5('org-empty')::uuid, 'empty', now() - interval '10 days'),
		(md5('org-full')::uuid, 'full', now() - interval '10 days')`)
	db.Exec(t, `INSERT INTO org_notes (org_id, body) VALUES (md5('org-empty')::uuid, 'note')`)
	db.Exec(t, `INSERT INTO memberships (org_id, user_id) VALUES (md5('org-full')::uuid, md5('user4')::uuid)`)
	db.Exec(t, `INSERT INTO invites (org_id, invited_by, email) VALUES (md5('org-full')::uuid, md5('user20')::uuid, 'x@example.com')`)
	db.Exec(t, `INSERT INTO payroll (user_id, iban) VALUES (md5('user20')::uuid, 'DE00')`)
	require.NoError(t, os.MkdirAll(filepath.Join(b.uploads, jobtest.MD5UUID("user20")), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b.uploads, jobtest.MD5UUID("user20"), "a.png"), []byte("x"), 0o644))

	script := b.applyGrants()
	require.Contains(t, script, "GRANT UPDATE (\"invited_by\", \"deleted_at\") ON \"public\".\"users\"")
	require.NotContains(t, script, "payroll")
	role := b.asRole()

	oldLogs := db.Int(t, `SELECT count(*) FROM activity_log WHERE created_at < now() - interval '90 days'`)
	require.Positive(t, oldLogs)
	eligible := db.Int(t, `SELECT count(*) FROM users WHERE deleted_at < now() - interval '30 days' AND NOT legal_hold`)
	require.Positive(t, eligible)
	users := db.Int(t, `SELECT count(*) FROM users`)

	for _, job := range []string{"purge", "retention", "orphans", "inactivity"} {
		r := b.lethe(role, "--job", job)
		require.Equal(t, 0, r.Code, "%s as the generated role: %s", job, r.Stderr)
		require.NotContains(t, r.Stderr, "superuser", job)
		require.NotContains(t, r.Stderr, "owns application tables", job)
	}
	require.Equal(t, users-eligible, db.Int(t, `SELECT count(*) FROM users`), "the purge erased the due subjects")
	require.Zero(t, db.Int(t, `SELECT count(*) FROM users WHERE invited_by = ANY (SELECT md5('user' || i)::uuid FROM generate_series(10, 50, 10) i WHERE i <> 10)`))
	require.NoDirExists(t, filepath.Join(b.uploads, jobtest.MD5UUID("user20")), "the purge removed the subject's files")
	require.Equal(t, eligible, db.Int(t, `SELECT count(*) FROM lethe.receipts`))
	require.Zero(t, db.Int(t, `SELECT count(*) FROM activity_log WHERE created_at < now() - interval '90 days'`), "retention deleted old rows")
	require.Zero(t, db.Int(t, `SELECT count(*) FROM organizations WHERE id = md5('org-empty')::uuid`), "orphans removed the empty organization")
	require.Equal(t, 1, db.Int(t, `SELECT count(*) FROM organizations`))
	require.Zero(t, db.Int(t, `SELECT count(*) FROM invites`), "orphans removed the erased inviter's invitation")
	require.Equal(t, 3, db.Int(t, `SELECT count(*) FROM lethe.notices WHERE status = 'sent'`), "inactivity warned")
	require.EqualValues(t, 3, b.hooks.Load())

	// A month later the warned accounts are handed to the purge: the role
	// writes requested_at.
	db.Exec(t, `UPDATE lethe.notices SET sent_at = sent_at - interval '31 days', webhook_sent_at = webhook_sent_at - interval '31 days'`)
	r := b.lethe(role, "--job", "inactivity")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, 3, db.Int(t, `SELECT count(*) FROM users WHERE email IN ('user1@example.com', 'user2@example.com', 'user3@example.com') AND deleted_at IS NOT NULL`))

	// The other commands work as the role too.
	r = b.lethe(role, "check")
	require.Equal(t, 0, r.Code, r.Stderr)
	r = b.lethe(role, "--job", "purge", "--dry-run")
	require.Equal(t, 0, r.Code, r.Stderr)
	r = b.lethe(role, "erase", "--subject", jobtest.MD5UUID("user7"), "--confirm")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Zero(t, db.Int(t, `SELECT count(*) FROM users WHERE email = 'user7@example.com'`))
	r = b.lethe(role, "receipt", "--subject", jobtest.MD5UUID("user7"))
	require.Equal(t, 0, r.Code, r.Stderr)

	// The script runs again (the role and lethe's tables exist now) and
	// takes back what an earlier policy granted.
	db.Exec(t, "GRANT SELECT, DELETE ON payroll TO "+b.role)
	require.Contains(t, b.applyGrants(), `ALTER TABLE "lethe"."receipts" OWNER TO`)

	// Outside the policy, and beyond what the rules need, the role is refused.
	conn := b.rolePool()
	requireDenied(t, conn, `SELECT * FROM payroll`)
	requireDenied(t, conn, `DELETE FROM payroll`)
	requireDenied(t, conn, `UPDATE users SET email = 'someone@example.com'`)
	requireDenied(t, conn, `INSERT INTO sessions (user_id, ip) VALUES (md5('user1')::uuid, '192.0.2.9')`)
	requireDenied(t, conn, `DELETE FROM consent_records`)
	requireDenied(t, conn, `TRUNCATE activity_log`)
	requireDenied(t, conn, `CREATE SCHEMA elsewhere`)
	requireDenied(t, conn, `DROP TABLE users`)
	require.Equal(t, 1, db.Int(t, `SELECT count(*) FROM payroll`))
}

// Run as a superuser, lethe says so once, at WARN.
func TestWarnsWhenRunAsSuperuser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.lethe(b.env, "--job", "retention", "--dry-run")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, 1, strings.Count(r.Stderr, "level=WARN msg=\"lethe is connected as a superuser"), r.Stderr)
}
