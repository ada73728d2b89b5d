package plan_test

import (
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// TestGhostUserReassignment: rows that a rule reassigns to a placeholder
// account are updated before the subject row goes, so ON DELETE CASCADE
// never reaches them; what would really fail is still refused.
func TestGhostUserReassignment(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE issues (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES users ON DELETE CASCADE, title text);
		INSERT INTO users VALUES (1, NULL);`)
	const head = "subject: {table: users, key: id, requested_at: gone, grace: 1d}\ntables:\n"
	pl, err := buildPolicy(t, db, head+`  - {table: issues, match: author_id, action: keep, basis: "public record", set: {author_id: 1}}`+"\n")
	require.NoError(t, err)
	require.Len(t, pl.Steps, 1, "no cascade step: the reassigned rows stay")

	_, err = buildPolicy(t, db, head+`  - {table: issues, match: author_id, action: keep, basis: "public record", set: {author_id: 2}}`+"\n")
	require.ErrorContains(t, err, "rule for issues sets author_id to 2, but users has no row with id = 2: the update would fail")

	_, err = buildPolicy(t, db, head+`  - {table: issues, match: author_id, action: anonymize, set: {title: x}}`+"\n")
	require.ErrorContains(t, err, "must set author_id to null or to another users row's id")

	_, err = buildPolicy(t, db, head+`  - {table: issues, match: author_id, action: keep, basis: b, set: {author_id: null}}`+"\n")
	require.ErrorContains(t, err, "sets author_id to null, but the column is NOT NULL")
}
