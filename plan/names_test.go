package plan_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// TestNamesThatAreNotTablesSayWhatTheyAre: a view, a materialized view or
// a foreign table named in a rule used to be reported as "does not
// exist", and an unquoted mixed-case name got no hint.
func TestNamesThatAreNotTablesSayWhatTheyAre(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, read(t, "../examples/schema.sql")+`
		CREATE VIEW session_view AS SELECT * FROM sessions;
		CREATE MATERIALIZED VIEW session_counts AS SELECT user_id, count(*) AS n FROM sessions GROUP BY user_id;
		CREATE FOREIGN DATA WRAPPER lethe_test_fdw;
		CREATE SERVER remote FOREIGN DATA WRAPPER lethe_test_fdw;
		CREATE FOREIGN TABLE remote_sessions (user_id uuid) SERVER remote;`)
	good := read(t, "../examples/policy.yaml")
	extra := `
  - table: session_view
    match: user_id
    action: delete

  - table: session_counts
    match: user_id
    action: delete

  - table: remote_sessions
    match: user_id
    action: delete
`
	src := strings.Replace(good, "tables:\n", "tables:"+extra, 1)
	src = strings.Replace(src, `table: '"UserProfiles"'`, `table: UserProfiles`, 1)
	src = strings.Replace(src, `match: '"userId"'`, `match: userid`, 1)
	p, err := policy.Parse([]byte(src), "policy.yaml")
	require.NoError(t, err)
	_, err = plan.Build(context.Background(), db.Pool, p)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"rule for session_view: session_view is a view, not a table",
		"rule for session_counts: session_counts is a materialized view, not a table",
		"rule for remote_sessions: remote_sessions is a foreign table",
		`rule for UserProfiles: table UserProfiles (unquoted, so userprofiles) does not exist; did you mean "UserProfiles"?`,
	} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, "session_view does not exist")

	// The column hint, once the table is right.
	src = strings.Replace(src, `table: UserProfiles`, `table: '"UserProfiles"'`, 1)
	src = strings.Replace(src, "tables:"+extra, "tables:\n", 1)
	p, err = policy.Parse([]byte(src), "policy.yaml")
	require.NoError(t, err)
	_, err = plan.Build(context.Background(), db.Pool, p)
	require.ErrorContains(t, err, `column userid does not exist in table "UserProfiles"; did you mean "userId"?`)
}

// TestCatalogAndValueProblemsTogether: a set: literal that does not cast
// used to be checked only once every table and column resolved, so a
// policy with both kinds of mistakes took two runs to fix.
func TestCatalogAndValueProblemsTogether(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, read(t, "../examples/schema.sql"))
	src := strings.Replace(read(t, "../examples/policy.yaml"), "table: sessions\n", "table: sesions\n", 1)
	src = strings.Replace(src, `set: {user_id: null, customer_email: {pseudonym: "purged-"}}`, `set: {user_id: null, amount_cents: lots}`, 1)
	p, err := policy.Parse([]byte(src), "policy.yaml")
	require.NoError(t, err)
	_, err = plan.Build(context.Background(), db.Pool, p)
	require.ErrorContains(t, err, "table sesions does not exist")
	require.ErrorContains(t, err, `sets amount_cents to "lots", which is not a valid bigint`)
}
