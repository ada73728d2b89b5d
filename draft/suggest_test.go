package draft

import (
	"testing"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

func table(name string, cols ...*catalog.Column) *catalog.Table {
	t := &catalog.Table{Schema: "public", Name: name, Columns: map[string]*catalog.Column{}}
	for _, c := range cols {
		t.Columns[c.Name] = c
		t.ColumnOrder = append(t.ColumnOrder, c.Name)
	}
	return t
}

// TestSuggestFollowsOnDeleteAndNullability: the action a draft proposes
// for each shape of reference.
func TestSuggestFollowsOnDeleteAndNullability(t *testing.T) {
	users := table("users", &catalog.Column{Name: "id", Type: "bigint", NotNull: true})
	nullable := &catalog.Column{Name: "closed_by_id", Type: "bigint"}
	owner := &catalog.Column{Name: "user_id", Type: "bigint"}
	notNull := &catalog.Column{Name: "author_id", Type: "bigint", NotNull: true}
	issues := table("issues", nullable, owner, notNull)
	invoices := table("invoices", &catalog.Column{Name: "user_id", Type: "bigint"})
	fk := func(child *catalog.Table, col, del string) *catalog.FK {
		return &catalog.FK{Name: "fk", Child: child, Parent: users, ChildCols: []string{col}, ParentCols: []string{"id"}, OnDelete: del}
	}
	cases := []struct {
		name   string
		r      Rule
		action policy.Action
		line   string
	}{
		{"cascade", Suggest(issues, "author_id", fk(issues, "author_id", "c"), nil), policy.Delete, "{table: issues, match: author_id, action: delete}"},
		{"set null", Suggest(issues, "user_id", fk(issues, "user_id", "n"), nil), policy.Anonymize, "{table: issues, match: user_id, action: anonymize, set: {user_id: null}}"},
		{"nullable, someone who acted", Suggest(issues, "closed_by_id", fk(issues, "closed_by_id", "a"), nil), policy.Anonymize, "set: {closed_by_id: null}"},
		{"nullable, the row's owner", Suggest(issues, "user_id", fk(issues, "user_id", "a"), nil), policy.Delete, "action: delete"},
		{"not null", Suggest(issues, "author_id", nil, nil), policy.Delete, "action: delete"},
		{"a record to keep", Suggest(invoices, "user_id", fk(invoices, "user_id", "a"), nil), policy.Keep, `basis: "TODO: the legal basis`},
		{"via", Suggest(issues, "author_id", nil, invoices), policy.Delete, "via: invoices"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.action, tc.r.Action, tc.name)
		require.Contains(t, tc.r.OneLine(), tc.line, tc.name)
		require.NotEmpty(t, tc.r.Review, tc.name)
	}
}

func TestNamesAreQuotedForSQLAndYAML(t *testing.T) {
	require.Equal(t, `'"userId"'`, ColumnName("userId"))
	require.Equal(t, "user_id", ColumnName("user_id"))
	require.Equal(t, `'"UserProfiles"'`, TableName(&catalog.Table{Schema: "public", Name: "UserProfiles"}))
	require.Equal(t, "billing.invoices", TableName(&catalog.Table{Schema: "billing", Name: "invoices"}))
}
