package grants_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := miniotest.Run(m)
	pgtest.Stop()
	letheproc.Cleanup()
	os.Exit(code)
}

// extraSchema adds to the example schema the organizations of the orphans
// job and a table no rule names (payroll: outside the policy).
const extraSchema = `
CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE memberships (
    id      bigserial PRIMARY KEY,
    org_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id)
);
CREATE TABLE org_notes (
    id     bigserial PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations (id),
    body   text NOT NULL
);
CREATE TABLE invites (
    id          bigserial PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    invited_by  uuid,
    email       text NOT NULL,
    accepted_at timestamptz
);
CREATE TABLE payroll (
    id      bigserial PRIMARY KEY,
    user_id uuid,
    iban    text NOT NULL
);
`

// extraPolicy is appended to the example policy: %[1]s is the webhook URL.
const extraPolicy = `
  - table: memberships
    match: user_id
    action: delete

inactivity:
  last_active: last_active_at
  after: 365d
  warn: 30d
  then: request-deletion
  notify:
    webhook: {url: %[1]q, secret_env: LETHE_WEBHOOK_SECRET, timeout: 10s}

orphans:
  organizations:
    - table: organizations
      key: id
      members: {table: memberships, match: org_id}
      created_at: created_at
      min_age: 1d
      tables:
        - {table: org_notes, match: org_id, action: delete}
        - {table: invites, match: org_id, action: delete}
  invites:
    - {table: invites, inviter: invited_by, pending: {accepted_at: null}}
`

// bundle is one test's database, policy, upload directory and webhook.
type bundle struct {
	t       *testing.T
	db      *pgtest.DB
	env     []string
	uploads string
	hooks   atomic.Int64
	role    string
}

func readRepoFile(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("..", name))
	require.NoError(t, err)
	return string(b)
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{t: t}
	b.db = pgtest.NewDB(t, readRepoFile(t, "examples/schema.sql")+extraSchema)
	data := readRepoFile(t, "examples/data.sql")
	data = data[strings.Index(data, "INSERT"):] // drop the psql \if preamble
	b.db.Exec(t, strings.ReplaceAll(data, ":users", "50"))
	b.role = "lethe_" + b.db.Name

	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hooks.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(hook.Close)

	dir := t.TempDir()
	b.uploads = filepath.Join(dir, "uploads")
	require.NoError(t, os.MkdirAll(b.uploads, 0o755))
	pol := readRepoFile(t, "examples/policy.yaml")
	pol = strings.Replace(pol, "file:///var/lib/app/uploads/{key}/", "file://"+b.uploads+"/{key}/", 1)
	pol = strings.Replace(pol, "\nignore:", fmt.Sprintf(extraPolicy, hook.URL)+"\nignore:", 1)
	path := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(pol), 0o600))
	b.env = []string{
		"LETHE_DATABASE_URL=" + b.db.URL, "LETHE_POLICY=" + path,
		"LETHE_SUBJECT_HASH_KEY=test-key", "LETHE_WEBHOOK_SECRET=whsec-test", "LETHE_LOG_FORMAT=text",
	}
	t.Cleanup(b.dropRole)
	return b
}

// asRole returns the environment with the database URL of the role.
func (b *bundle) asRole() []string { return b.asRoleWith(b.env) }

// asRoleWith returns env with the database URL of the role.
func (b *bundle) asRoleWith(env []string) []string {
	u, err := url.Parse(b.db.URL)
	require.NoError(b.t, err)
	u.User = url.User(b.role)
	return append(append([]string{}, env...), "LETHE_DATABASE_URL="+u.String())
}

// rolePool connects to the test database as the role.
func (b *bundle) rolePool() *pgx.Conn {
	u, err := url.Parse(b.db.URL)
	require.NoError(b.t, err)
	u.User = url.User(b.role)
	conn, err := pgx.Connect(context.Background(), u.String())
	require.NoError(b.t, err)
	b.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (b *bundle) dropRole() {
	ctx := context.Background()
	_, _ = b.db.Pool.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{b.role}.Sanitize())
	_, _ = b.db.Pool.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{b.role}.Sanitize())
}

// lethe runs the real binary with env and PATH.
func (b *bundle) lethe(env []string, args ...string) letheproc.Result {
	b.t.Helper()
	return letheproc.Run(b.t, append([]string{"PATH=" + os.Getenv("PATH")}, env...), args...)
}
