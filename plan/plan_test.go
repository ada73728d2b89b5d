package plan_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

func read(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestPolicyErrors breaks the example policy one way at a time and checks
// that the plan names the problem.
func TestPolicyErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, read(t, "../examples/schema.sql"))
	good := read(t, "../examples/policy.yaml")
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown table", "table: sessions\n", "table: sesions\n", "table sesions does not exist"},
		{"hostile table name", "table: sessions\n", "table: 'sessions; DROP TABLE users'\n", `table sessions; DROP TABLE users does not exist`},
		{"unknown column", "match: user_id\n    action: delete\n\n  - table: notes", "match: userid\n    action: delete\n\n  - table: notes", "column userid does not exist in table sessions"},
		{"set value of the wrong type", `set: {user_id: null, customer_email: {pseudonym: "purged-"}}`, `set: {user_id: null, amount_cents: lots}`, `sets amount_cents to "lots", which is not a valid bigint`},
		{"null into NOT NULL", "set: {created_by: deleted-user}", "set: {created_by: null}", "sets created_by to null, but the column is NOT NULL"},
		{"pseudonym into a non-text column", "set: {invited_by: null}", "set: {invited_by: {pseudonym: x}}", "sets invited_by to a pseudonym, but the column is uuid"},
		{"via with mismatched types", "via: wishlists ", `via: '"UserProfiles"' `, `wishlist_id is bigint but "UserProfiles".userId is uuid`},
		{"via to an uncovered table", "via: wishlists ", "via: consent_records ", "no rule covers consent_records"},
		{"uncovered foreign key", "  - table: sessions\n    match: user_id\n    action: delete\n", "", "sessions.user_id references users(id) (sessions_user_id_fkey, ON DELETE NO ACTION): not covered"},
		{"ignored NO ACTION foreign key", "  - table: sessions\n    match: user_id\n    action: delete\n", "", "not covered"},
		{"uncovered cascade child", "ignore:\n  - table: consent_records\n    reason: rows go by ON DELETE CASCADE from users\n", "", "consent_records.user_id references users(id) (consent_records_user_id_fkey, ON DELETE CASCADE): not covered"},
		{"anonymize that keeps a reference to a deleted row", "set: {user_id: null, customer_email: {pseudonym: \"purged-\"}}", "set: {customer_email: {pseudonym: \"purged-\"}}", "must set user_id to null or to another users row's id"},
		{"match type mismatch", "  - table: activity_log\n    match: user_id", "  - table: activity_log\n    match: id", "match column id is bigint, but the subject key is uuid"},
		{"subject column missing", "requested_at: deleted_at", "requested_at: removed_at", "column removed_at does not exist in table users"},
		{"hold is not boolean", "hold: legal_hold", "hold: email", "subject.hold email is text, want boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, good, tc.old, "test case must edit the example policy")
			src := strings.Replace(good, tc.old, tc.new, 1)
			if tc.name == "ignored NO ACTION foreign key" {
				src = strings.Replace(src, "ignore:\n", "ignore:\n  - table: sessions\n    reason: wrongly ignored\n", 1)
				tc.want = "ignore sessions: sessions.user_id references users(id) (sessions_user_id_fkey, ON DELETE NO ACTION), so deleting users rows would fail"
			}
			p, err := policy.Parse([]byte(src), "policy.yaml")
			require.NoError(t, err)
			_, err = plan.Build(context.Background(), db.Pool, p)
			var perr *policy.Error
			require.True(t, errors.As(err, &perr), "want a policy error, got %v", err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestPlanOrder(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, read(t, "../examples/schema.sql"))
	p, err := policy.Parse([]byte(read(t, "../examples/policy.yaml")), "policy.yaml")
	require.NoError(t, err)
	pl, err := plan.Build(context.Background(), db.Pool, p)
	require.NoError(t, err)
	pos := map[string]int{}
	for i, s := range pl.Steps {
		pos[s.String()] = i
	}
	// wishlist_items reach the user through wishlists: they go first,
	// though the policy lists them in the other order too.
	require.Less(t, pos["wishlist_items delete"], pos["wishlists delete"])
	require.Equal(t, "users", pl.Final.Table.String())
	var b strings.Builder
	pl.Describe(&b)
	require.Contains(t, b.String(), "wishlist_items_wishlist_id_fkey")
}

func TestCycleIsAPolicyError(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE a (id bigint PRIMARY KEY, user_id bigint REFERENCES users, b_id bigint);
		CREATE TABLE b (id bigint PRIMARY KEY, user_id bigint REFERENCES users, a_id bigint REFERENCES a);
		ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;`)
	p, err := policy.Parse([]byte(`
subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: a, match: user_id, action: delete}
  - {table: b, match: user_id, action: delete}
  - {table: a, match: b_id, via: b, action: delete}
  - {table: b, match: a_id, via: a, action: delete}
`), "p.yaml")
	require.NoError(t, err)
	_, err = plan.Build(context.Background(), db.Pool, p)
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot be ordered")
}
