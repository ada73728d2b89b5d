package orphans_test

import (
	"testing"

	"github.com/lethe-project/lethe/internal/fixtures"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// With PostgreSQL's default foreign key (no ON DELETE clause: NO ACTION)
// from the members table, an organization with no member has no
// membership row to block its deletion: it goes, the others stay.
func TestNoActionMembersKeyStillRemovesOrphans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `ALTER TABLE memberships DROP CONSTRAINT memberships_org_id_fkey,
		ADD CONSTRAINT memberships_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id)`)
	alice := b.addUser("alice", "")
	kept := b.addOrg("kept", "1 year", alice)
	orphan := b.addOrg("orphan", "1 year")

	dry, err := b.run(dryRun)
	require.NoError(t, err)
	require.Equal(t, int64(1), dry.Counter("organizations_removed"))
	r, err := b.run()
	require.NoError(t, err)
	require.Equal(t, int64(1), r.Counter("organizations_removed"))
	require.Equal(t, orgState{}, b.org(orphan))
	require.Equal(t, full(1), b.org(kept))
}

// The OpenStreetMap schema has the shape with NO ACTION keys only:
// moderation issues that no report refers to any more, with their
// comments, removed as organizations with reports as members.
func TestOSMIssuesWithoutReportsGo(t *testing.T) {
	t.Parallel()
	b := &bundle{t: t, db: pgtest.NewDB(t, fixtures.OSMSchema(t, ""))}
	b.setPolicy(`subject: {table: users, key: id, requested_at: creation_time, grace: 1d}
orphans:
  organizations:
    - table: issues
      key: id
      members: {table: reports, match: issue_id}
      created_at: created_at
      min_age: 30d
      tables:
        - {table: issue_comments, match: issue_id, action: delete}
`)
	b.db.Exec(t, `
		INSERT INTO users (id, email, pass_crypt, creation_time, display_name, status)
		VALUES (1, 'mod@example.com', 'h', now(), 'Mod', 'active');
		INSERT INTO issues (id, reportable_type, reportable_id, assigned_role, created_at, updated_at)
		VALUES (1, 'Note', 1, 'moderator', now() - interval '1 year', now()),
		       (2, 'Note', 2, 'moderator', now() - interval '1 year', now()),
		       (3, 'Note', 3, 'moderator', now() - interval '1 day', now());
		INSERT INTO reports (id, issue_id, user_id, details, category, created_at, updated_at)
		VALUES (1, 1, 1, 'spam', 'spam', now(), now());
		INSERT INTO issue_comments (id, issue_id, user_id, body, created_at, updated_at)
		VALUES (1, 1, 1, 'a', now(), now()), (2, 2, 1, 'b', now(), now()), (3, 2, 1, 'c', now(), now());`)
	r, err := b.run()
	require.NoError(t, err)
	require.Equal(t, int64(1), r.Counter("organizations_removed"))
	require.Equal(t, map[string]int64{"issue_comments delete": 2, "issues delete": 1}, r.Rows)
	require.Equal(t, 2, b.db.Int(t, `SELECT count(*) FROM issues`))
	require.Equal(t, 0, b.db.Int(t, `SELECT count(*) FROM issues WHERE id = 2`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM issue_comments`))
}
