package policy

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReferencesParseWithLinesAndDefaults(t *testing.T) {
	src := `subject:
  table: users
  key: id
  requested_at: deletion_requested_at
  grace: 30d
tables:
  - table: audit
    match: actor_email
    on: email
    action: delete
references:
  - table: award_emoji
    column: user_id
    note: belongs_to :user
  - table: events
    columns: [partition_id, target_id]
    to: targets
    to_columns: [partition_id, id]
`
	p, err := Parse([]byte(src), "p.yaml")
	require.NoError(t, err)
	require.Len(t, p.References, 2)
	require.Equal(t, 12, p.References[0].Line)
	require.Equal(t, []string{"user_id"}, p.References[0].From()[0].Parts)
	require.True(t, p.References[0].To.IsZero(), "to defaults to the subject table")
	require.Empty(t, p.References[0].Target(), "to_column defaults to the primary key")
	require.Len(t, p.References[1].From(), 2)
	require.Len(t, p.References[1].Target(), 2)
	require.Equal(t, "email", p.Tables[0].On.Column())
}

func TestReferencesProblemsNameTheLine(t *testing.T) {
	src := `subject:
  table: users
  key: id
  requested_at: deletion_requested_at
  grace: 30d
tables:
  - table: audit
    match: actor_id
    via: actors
    on: email
    action: delete
references:
  - table: a
  - table: b
    column: x
    columns: [y]
  - table: c
    columns: [p, q]
    to_columns: [id]
  - column: x
  - table: d
    column: x
    colour: red
`
	_, err := Parse([]byte(src), "p.yaml")
	var perr *Error
	require.True(t, errors.As(err, &perr))
	require.Contains(t, err.Error(), `unknown key "colour" in a references: entry`)

	src = src[:len(src)-len("    colour: red\n")]
	_, err = Parse([]byte(src), "p.yaml")
	require.True(t, errors.As(err, &perr))
	for _, want := range []string{
		"line 7: rule for audit: on: names a column of the subject, via: a parent table; give one",
		"line 13: reference from a needs column:",
		"line 14: reference from b: give column: or columns:, not both",
		"line 17: reference from c names 2 columns and 1 referenced columns",
		"line 20: a references: entry needs table:",
	} {
		require.Contains(t, err.Error(), want)
	}
}

// TestMatchList: match: takes a list of columns; a list names each column
// once, and on: is for one column.
func TestMatchList(t *testing.T) {
	p, err := Parse([]byte(`subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: events, match: [partition_id, user_id], action: delete}
  - {table: logs, match: [user_id], action: delete}
`), "p.yaml")
	require.NoError(t, err)
	require.Equal(t, "[partition_id, user_id]", p.Tables[0].Match.String())
	require.Len(t, p.Tables[0].Match.Columns(), 2)
	require.Equal(t, "user_id", p.Tables[1].Match.String(), "a list of one is one column")
	_, err = Parse([]byte(`subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: events, match: [user_id, user_id], action: delete}
  - {table: logs, match: [a, b], on: email, action: delete}
`), "p.yaml")
	require.ErrorContains(t, err, "line 3: rule for events: match: [user_id, user_id] names user_id twice")
	require.ErrorContains(t, err, "line 4: rule for logs: match: [a, b] names a multi-column key")
	_, err = Parse([]byte(`subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: notes, match: [], action: delete}
`), "p.yaml")
	require.ErrorContains(t, err, "line 3: match: an empty list names no column")
}
