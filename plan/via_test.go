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

// TestViaFollowsTheParentsOneDeleteRule: a parent table with a delete rule
// and an anonymize rule (wishlists the subject owns, wishlists shared with
// the subject) is not ambiguous for via: only the rows the delete rule
// removes take their children with them; the anonymized ones stay, and so
// do their children. With two delete rules, the children go through both.
func TestViaFollowsTheParentsOneDeleteRule(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, read(t, "../examples/schema.sql")+
		"\nALTER TABLE wishlists ADD COLUMN shared_with uuid REFERENCES users (id);\n")
	good := read(t, "../examples/policy.yaml")
	second := "  - table: wishlists\n    match: user_id\n    action: delete\n"
	require.Contains(t, good, second)
	src := strings.Replace(good, second, second+"\n  - table: wishlists\n    match: shared_with\n    action: anonymize\n    set: {shared_with: null}\n", 1)
	p, err := policy.Parse([]byte(src), "policy.yaml")
	require.NoError(t, err)
	pl, err := plan.Build(context.Background(), db.Pool, p)
	require.NoError(t, err)
	for _, s := range pl.Steps {
		if s.Table.Name == "wishlist_items" {
			require.Equal(t, "user_id", s.Via.Match.Name)
			require.Equal(t, policy.Delete, s.Via.Action)
		}
	}

	// With two delete rules on wishlists, wishlist_items go through both.
	src = strings.Replace(src, "match: shared_with\n    action: anonymize\n    set: {shared_with: null}\n", "match: shared_with\n    action: delete\n", 1)
	p, err = policy.Parse([]byte(src), "policy.yaml")
	require.NoError(t, err)
	pl, err = plan.Build(context.Background(), db.Pool, p)
	require.NoError(t, err)
	var through []string
	for i, s := range pl.Steps {
		if s.Table.Name == "wishlist_items" {
			through = append(through, s.Via.Match.Name)
			for _, later := range pl.Steps[:i] {
				require.False(t, later.Table.Name == "wishlists" && later.Action == policy.Delete, "wishlist_items must go before any wishlists row")
			}
		}
	}
	require.ElementsMatch(t, []string{"user_id", "shared_with"}, through)
}

// TestViaToItsOwnTable: replies whose parent comment the purge deletes
// must lose their link first (a self-referencing foreign key with NO
// ACTION), which a rule says with via: the rule's own table.
func TestViaToItsOwnTable(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, read(t, "../examples/schema.sql")+`
CREATE TABLE comments (id bigint PRIMARY KEY, author_id uuid NOT NULL REFERENCES users, parent_id bigint REFERENCES comments);
`)
	src := read(t, "../examples/policy.yaml")
	src = strings.Replace(src, "tables:\n", `tables:
  - table: comments
    match: author_id
    action: delete
  - table: comments
    match: parent_id
    via: comments
    action: anonymize
    set: {parent_id: null}
`, 1)
	p, err := policy.Parse([]byte(src), "policy.yaml")
	require.NoError(t, err)
	pl, err := plan.Build(context.Background(), db.Pool, p)
	require.NoError(t, err)
	var order []string
	for _, s := range pl.Steps {
		if s.Table.Name == "comments" {
			order = append(order, string(s.Action))
		}
	}
	require.Equal(t, []string{"anonymize", "delete"}, order)

	// Run the batch's statements for one subject: the other person's reply
	// stays, unlinked, and the subject's comment goes.
	const u1, u2 = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
	db.Exec(t, `INSERT INTO users (id, email, name) VALUES ($1, 'a@x', 'a'), ($2, 'b@x', 'b')`, u1, u2)
	db.Exec(t, `INSERT INTO comments VALUES (1, $1, NULL), (2, $2, 1), (3, $1, 2)`, u1, u2)
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	for _, s := range append(pl.Steps, pl.Final) {
		st := s.SQL(pl.Subject.Key, false, nil)
		_, err := tx.Exec(ctx, st.SQL, append([]any{[]string{u1}, []string{"h"}}, st.Args...)...)
		require.NoError(t, err, "%s", s)
	}
	var left string
	require.NoError(t, tx.QueryRow(ctx, `SELECT string_agg(id || ':' || coalesce(parent_id::text, '-'), ',' ORDER BY id) FROM comments`).Scan(&left))
	require.Equal(t, "2:-", left)
}
