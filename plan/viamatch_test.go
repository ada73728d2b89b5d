package plan_test

import (
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// TestViaMatchPicksTheParentRule: when several rules cover the via table,
// via_match names the one whose rows the child follows.
func TestViaMatchPicksTheParentRule(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE docs (id bigint PRIMARY KEY, owner_id bigint REFERENCES users, editor_id bigint REFERENCES users);
		CREATE TABLE doc_tags (id bigint PRIMARY KEY, doc_id bigint REFERENCES docs);`)
	const head = `subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: docs, match: owner_id, action: delete}
  - {table: docs, match: editor_id, action: anonymize, set: {editor_id: null}}
`
	// Without via_match, the delete rule is followed: only the rows it
	// removes take their tags with them.
	pl, err := buildPolicy(t, db, head+"  - {table: doc_tags, match: doc_id, via: docs, action: delete}\n")
	require.NoError(t, err)
	var d strings.Builder
	pl.Describe(&d)
	require.Contains(t, d.String(), "delete     doc_tags where doc_id → docs.id\n       reaches the subject via docs")
	// With no delete rule on docs, nothing says which rows lead.
	_, err = buildPolicy(t, db, strings.Replace(head, "action: delete}", "action: anonymize, set: {owner_id: null}}", 1)+
		"  - {table: doc_tags, match: doc_id, via: docs, action: delete}\n")
	require.ErrorContains(t, err, "rule for doc_tags: via docs is ambiguous, 2 rules cover docs (match owner_id, editor_id) and none deletes: say which with via_match:")

	pl, err = buildPolicy(t, db, head+"  - {table: doc_tags, match: doc_id, via: docs, via_match: owner_id, action: delete}\n")
	require.NoError(t, err)
	var b strings.Builder
	pl.Describe(&b)
	require.Contains(t, b.String(), "where doc_id → docs.id (through the docs rule on owner_id)")

	_, err = buildPolicy(t, db, head+"  - {table: doc_tags, match: doc_id, via: docs, via_match: author_id, action: delete}\n")
	require.ErrorContains(t, err, "rule for doc_tags: via docs with via_match author_id, but no rule for docs matches author_id (they match owner_id, editor_id)")
}
