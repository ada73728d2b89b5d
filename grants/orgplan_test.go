package grants_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// Grants plan an organization with the orphans job's own planner: a table
// that refers to the members table needs no rule (an orphaned organization
// has no membership rows), so a policy the job accepts gets its grants.
func TestGrantsPlanOrganizationsAsTheJobDoes(t *testing.T) {
	t.Parallel()
	b := &bundle{t: t, db: pgtest.NewDB(t, `
CREATE TABLE users (id uuid PRIMARY KEY, deleted_at timestamptz);
CREATE TABLE organizations (id uuid PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE memberships (id bigserial PRIMARY KEY, org_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE);
CREATE TABLE membership_roles (id bigserial PRIMARY KEY, membership_id bigint NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    role text NOT NULL);`)}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`subject: {table: users, key: id, requested_at: deleted_at, grace: 1d}
ignore:
  - {table: memberships, reason: rows go by ON DELETE CASCADE from users}
  - {table: membership_roles, reason: rows go by ON DELETE CASCADE from memberships}
orphans:
  organizations:
    - {table: organizations, key: id, members: {table: memberships, match: org_id}, created_at: created_at, min_age: 1d}
`), 0o600))
	b.env = []string{"LETHE_DATABASE_URL=" + b.db.URL, "LETHE_POLICY=" + path}
	r := b.lethe(b.env, "check")
	require.Equal(t, 0, r.Code, "the job accepts the policy: %s", r.Stderr)
	r = b.lethe(b.env, "grants")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "GRANT SELECT ON \"public\".\"memberships\"")
	require.NotContains(t, r.Stdout, "\"public\".\"membership_roles\"", "orphans never touches a membership's rows")
}
