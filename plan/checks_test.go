package plan_test

import (
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// TestSetValuesMeetCheckConstraints: a set: value that a single-column
// CHECK constraint refuses (NOT VALID ones too, the common way to add a
// NOT NULL to a large table) is a policy problem, not a failed batch.
func TestSetValuesMeetCheckConstraints(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE reports (id bigint PRIMARY KEY, reporter_id bigint REFERENCES users, reason text,
			score int CONSTRAINT score_range CHECK (score BETWEEN 0 AND 10), a int, b int, CHECK (a < b));
		ALTER TABLE reports ADD CONSTRAINT reporter_present CHECK (reporter_id IS NOT NULL) NOT VALID;
		ALTER TABLE reports ADD CONSTRAINT reason_short CHECK (length(reason) < 20);`)
	const head = "subject: {table: users, key: id, requested_at: gone, grace: 1d}\ntables:\n"
	_, err := buildPolicy(t, db, head+`  - {table: reports, match: reporter_id, action: keep, basis: b, set: {reporter_id: null, score: 11, reason: "a reason that is far too long"}}`+"\n")
	require.ErrorContains(t, err, "rule for reports sets reporter_id to null, which CHECK constraint reporter_present (NOT VALID) refuses: CHECK ((reporter_id IS NOT NULL)) NOT VALID")
	require.ErrorContains(t, err, "rule for reports sets score to \"11\", which CHECK constraint score_range refuses")
	require.ErrorContains(t, err, "rule for reports sets reason to \"a reason that is far too long\", which CHECK constraint reason_short refuses")

	_, err = buildPolicy(t, db, head+`  - {table: reports, match: reporter_id, action: keep, basis: b, set: {reporter_id: null, score: 0, a: 5}}`+"\n")
	require.ErrorContains(t, err, "reporter_present")
	require.NotContains(t, err.Error(), "score_range")
	require.NotContains(t, err.Error(), "reports_check", "a CHECK on several columns depends on the row: the executing dry run finds it")
}
