package discover

import (
	"context"
	"os"
	"sort"
	"testing"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// schema has references nobody declared: by name (keys.user_id,
// notes.author_id as text, projects.owner_id), by data only
// (award_emoji.awarder), personal data by name and by content, and decoys:
// a declared FK, a reference to another table, a column of small numbers.
const schema = `
CREATE TABLE users (id bigint PRIMARY KEY, email text, deleted_at timestamptz);
CREATE TABLE projects (id bigint PRIMARY KEY, owner_id bigint, name text);
CREATE TABLE sessions (id bigint PRIMARY KEY, user_id bigint REFERENCES users);
CREATE TABLE keys (id bigint PRIMARY KEY, user_id bigint, title text);
CREATE TABLE notes (id bigint PRIMARY KEY, author_id text, project_id bigint, body text, position int);
CREATE TABLE award_emoji (id bigint PRIMARY KEY, awarder bigint, name text);
CREATE TABLE audit (id bigint PRIMARY KEY, details text, payload jsonb, ip_address inet);
CREATE TABLE issues (id bigint PRIMARY KEY, project_id bigint, closed_by_id integer);
`

const data = `
INSERT INTO users SELECT g, 'u' || g || '@example.org' FROM generate_series(1, 50) g;
INSERT INTO projects SELECT g, g, 'p' || g FROM generate_series(1, 30) g;
INSERT INTO keys SELECT g, g, 'k' FROM generate_series(1, 40) g;
INSERT INTO notes SELECT g, CASE WHEN g % 2 = 0 THEN g::text ELSE 'bot' END, g, 'text', g % 5 FROM generate_series(1, 40) g;
INSERT INTO award_emoji SELECT g, g, 'thumbsup' FROM generate_series(1, 30) g;
INSERT INTO audit SELECT g, 'login from 10.0.0.' || g, jsonb_build_object('user_id', g), NULL FROM generate_series(1, 20) g;
INSERT INTO issues SELECT g, g, g FROM generate_series(1, 20) g;
`

func find(t *testing.T, db *pgtest.DB, cfg *policy.Discovery, opts Options) (*Result, map[string]*Candidate) {
	ctx := context.Background()
	cat, err := catalog.Load(ctx, db.Pool)
	require.NoError(t, err)
	users, _ := cat.Lookup(policy.Ident{Raw: "users", Parts: []string{"users"}})
	projects, _ := cat.Lookup(policy.Ident{Raw: "projects", Parts: []string{"projects"}})
	in := Input{Catalog: cat, Subject: Target{users, users.Columns["id"]}, Config: cfg,
		Deleted: []Target{{projects, projects.Columns["id"]}}}
	res, err := Find(ctx, db.Pool, in, opts)
	require.NoError(t, err)
	byCol := map[string]*Candidate{}
	for _, c := range res.Candidates {
		byCol[string(c.Kind)+" "+c.String()] = c
	}
	return res, byCol
}

func keys(m map[string]*Candidate) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestFindsReferencesByNameAndByData(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, schema)
	db.Exec(t, data)
	res, byCol := find(t, db, nil, Options{})
	require.Equal(t, []string{
		"personal audit.details", "personal audit.ip_address", "personal audit.payload", "personal users.email",
		"reference award_emoji.awarder", "reference issues.closed_by_id", "reference issues.project_id",
		"reference keys.user_id", "reference notes.author_id", "reference notes.project_id", "reference projects.owner_id",
	}, keys(byCol))
	// project_id refers to projects, which the policy deletes.
	require.Equal(t, "projects", byCol["reference issues.project_id"].To.Name)
	require.Zero(t, res.Unsampled)

	k := byCol["reference keys.user_id"]
	require.True(t, k.ByName)
	require.Equal(t, 40, k.Sampled)
	require.Equal(t, 1.0, k.Confidence())
	require.Contains(t, k.Evidence(), "40 of 40 sampled values found in users (confidence 100%)")
	// Text holding keys: the half that are numbers are users.
	n := byCol["reference notes.author_id"]
	require.Equal(t, 21, n.Sampled)
	require.Equal(t, 20, n.Found)
	// Not named like a reference: found because every value is a user.
	a := byCol["reference award_emoji.awarder"]
	require.False(t, a.ByName)
	require.Contains(t, a.Evidence(), "every sampled value is a users.id")
	require.Equal(t, "IP addresses", byCol["personal audit.details"].Content)
	require.Equal(t, "subject keys", byCol["personal audit.payload"].Content)
	require.Equal(t, "", byCol["personal audit.ip_address"].Content)
	// issues.project_id names projects; notes.position is small numbers.
	require.NotContains(t, byCol, "reference notes.position")
}

func TestDiscoveryConfigNamesSkipsAndTurnsSamplingOff(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, schema)
	db.Exec(t, data)
	cfg := &policy.Discovery{Names: []string{"awarder"}, Skip: []string{"audit", "notes.author_id"}, SampleRows: -1}
	res, byCol := find(t, db, cfg, Options{})
	require.Equal(t, []string{
		"personal users.email", "reference award_emoji.awarder", "reference issues.closed_by_id",
		"reference issues.project_id", "reference keys.user_id", "reference notes.project_id", "reference projects.owner_id",
	}, keys(byCol))
	require.True(t, byCol["reference award_emoji.awarder"].ByName)
	require.Equal(t, -1.0, byCol["reference keys.user_id"].Confidence())
	require.Zero(t, res.Sampled)
}

func TestBudgetLeavesTablesUnsampledNotFailed(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, schema)
	db.Exec(t, data)
	calls := 0
	// The budget is a deadline; the hook ends it after two tables, as a
	// slow database would, without depending on the clock.
	opts := Options{beforeTable: func(_ *catalog.Table, expire func()) {
		if calls++; calls == 3 {
			expire()
		}
	}}
	res, byCol := find(t, db, nil, opts)
	require.Equal(t, 2, res.Sampled)
	require.Equal(t, 4, res.Unsampled) // of the 6 tables with something to sample
	// Shape candidates stay, unsampled.
	require.Contains(t, byCol, "reference keys.user_id")
	require.Equal(t, -1.0, byCol["reference keys.user_id"].Confidence())
}

// TestReferencesAreSampledFirst: the tables with reference candidates are
// sampled before those with only content to look at, so that a budget that
// runs out on a large schema leaves the latter unsampled.
func TestReferencesAreSampledFirst(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, schema)
	db.Exec(t, data)
	var order []string
	opts := Options{beforeTable: func(tb *catalog.Table, expire func()) {
		order = append(order, tb.Name)
		if len(order) == 6 {
			expire()
		}
	}}
	res, byCol := find(t, db, nil, opts)
	require.Equal(t, "audit", order[len(order)-1], "audit has only content columns: %v", order)
	require.Equal(t, 5, res.Sampled)
	require.Equal(t, 1, res.Unsampled)
	require.Equal(t, 1.0, byCol["reference award_emoji.awarder"].Confidence(), "found by its data alone")
}

// TestATablesOwnPeopleTableTakesItsRoles: merge_request_diff_commits keeps
// its commit authors in its own people table, merge_request_diff_commit_users
// (name and email, no user): commit_author_id and committer_id refer to it,
// not to users, while user_id still names users. A <table>_users that
// refers to users itself (a membership, project_users) is no such table,
// and leaves projects.owner_id a candidate.
func TestATablesOwnPeopleTableTakesItsRoles(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
CREATE TABLE users (id bigint PRIMARY KEY, email text);
CREATE TABLE merge_request_diff_commits (id bigint PRIMARY KEY, commit_author_id bigint, committer_id bigint, user_id bigint);
CREATE TABLE merge_request_diff_commit_users (id bigint PRIMARY KEY, name text, email text);
CREATE TABLE projects (id bigint PRIMARY KEY, owner_id bigint, creator_id bigint);
CREATE TABLE project_users (id bigint PRIMARY KEY, project_id bigint, user_id bigint, email text);
CREATE TABLE groups (id bigint PRIMARY KEY, owner_id bigint);
CREATE TABLE group_users (id bigint PRIMARY KEY, member bigint REFERENCES users, email text);
`)
	ctx := context.Background()
	cat, err := catalog.Load(ctx, db.Pool)
	require.NoError(t, err)
	users, _ := cat.Lookup(policy.Ident{Raw: "users", Parts: []string{"users"}})
	res, err := Find(ctx, db.Pool, Input{Catalog: cat, Subject: Target{users, users.Columns["id"]}}, Options{})
	require.NoError(t, err)
	var refs []string
	for _, c := range res.Candidates {
		if c.Kind == Reference {
			refs = append(refs, c.String())
		}
	}
	sort.Strings(refs)
	require.Equal(t, []string{"groups.owner_id", "merge_request_diff_commits.user_id", "project_users.user_id",
		"projects.creator_id", "projects.owner_id"}, refs)
}
