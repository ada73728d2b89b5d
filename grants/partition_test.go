package grants_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

const partitionSchema = `
CREATE TABLE users (id bigint PRIMARY KEY, deleted_at timestamptz);
CREATE TABLE events (id bigint NOT NULL, created_at timestamptz NOT NULL, body text) PARTITION BY RANGE (created_at);
CREATE TABLE events_2000 PARTITION OF events FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
CREATE TABLE events_later PARTITION OF events FOR VALUES FROM ('2001-01-01') TO ('2200-01-01');
INSERT INTO events SELECT i, timestamptz '2000-06-01' + i * interval '1 hour', 'old' FROM generate_series(1, 20) i;
INSERT INTO events SELECT 100 + i, now() - i * interval '50 days', 'recent' FROM generate_series(0, 5) i;
`

const partitionPolicy = `subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30d
retention:
  - table: events
    column: created_at
    keep: 90d
`

// Dropping partitions needs ownership, which the script says and does not
// grant; the documented alternative (a role that owns the table, granted
// to lethe's role) makes retention work, and lethe then warns.
func TestPartitionedRetentionNeedsTheOwnersRole(t *testing.T) {
	t.Parallel()
	b := &bundle{t: t, db: pgtest.NewDB(t, partitionSchema)}
	b.role = "lethe_" + b.db.Name
	t.Cleanup(b.dropRole)
	owner := pgx.Identifier{"owner_" + b.db.Name}.Sanitize()
	b.db.Exec(t, "CREATE ROLE "+owner+" NOLOGIN")
	t.Cleanup(func() {
		b.db.Exec(t, "DROP OWNED BY "+owner)
		b.db.Exec(t, "DROP ROLE "+owner)
	})
	for _, tbl := range []string{"events", "events_2000", "events_later"} {
		b.db.Exec(t, "ALTER TABLE "+tbl+" OWNER TO "+owner)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(partitionPolicy), 0o600))
	b.env = []string{"LETHE_DATABASE_URL=" + b.db.URL, "LETHE_POLICY=" + path, "LETHE_LOG_FORMAT=text"}

	script := b.applyGrants()
	role := pgx.Identifier{b.role}.Sanitize()
	require.Contains(t, script, "GRANT SELECT, DELETE ON public.events_2000 TO "+role)
	require.Contains(t, script, "GRANT SELECT, DELETE ON public.events_later TO "+role)
	require.Contains(t, script, "--     GRANT "+owner+" TO "+role)

	r := b.lethe(b.asRole(), "--job", "retention")
	require.Equal(t, 1, r.Code, "dropping a partition needs ownership")
	require.Contains(t, r.Stderr, "42501")
	require.Equal(t, 26, b.db.Int(t, "SELECT count(*) FROM events"))

	b.db.Exec(t, "GRANT "+owner+" TO "+role)
	r = b.lethe(b.asRole(), "--job", "retention")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM pg_class WHERE relname = 'events_2000'"), "the old partition was dropped")
	require.Equal(t, 2, b.db.Int(t, "SELECT count(*) FROM events"), "rows older than 90 days went from the other partition")
	require.Equal(t, 1, strings.Count(r.Stderr, "owns application tables named in the policy"), "lethe warns that its role owns a table")
	require.Contains(t, r.Stderr, "tables=events")
}

// An organization whose membership key has no ON DELETE clause (NO ACTION,
// PostgreSQL's default) is planned as the orphans job runs it: lethe only
// reads the members table.
func TestGrantsForMembersWithoutOnDelete(t *testing.T) {
	t.Parallel()
	b := &bundle{t: t, db: pgtest.NewDB(t, `
CREATE TABLE users (id uuid PRIMARY KEY, deleted_at timestamptz);
CREATE TABLE organizations (id uuid PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE memberships (id bigserial PRIMARY KEY, org_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE);`)}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`subject: {table: users, key: id, requested_at: deleted_at, grace: 1d}
ignore:
  - {table: memberships, reason: rows go by ON DELETE CASCADE from users}
orphans:
  organizations:
    - {table: organizations, key: id, members: {table: memberships, match: org_id}, created_at: created_at, min_age: 1d}
`), 0o600))
	b.env = []string{"LETHE_DATABASE_URL=" + b.db.URL, "LETHE_POLICY=" + path}
	r := b.lethe(b.env, "grants")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "GRANT SELECT ON \"public\".\"memberships\"")
	require.Contains(t, r.Stdout, "GRANT SELECT, DELETE ON \"public\".\"organizations\"")
}
