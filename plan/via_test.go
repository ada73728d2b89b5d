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
