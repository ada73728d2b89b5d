package purge_test

import (
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestGhostUserKeepsCascadingRows: issues whose author_id is ON DELETE
// CASCADE are reassigned to the placeholder account before the subject row
// goes, so they stay; the receipt counts them and verification passes.
func TestGhostUserKeepsCascadingRows(t *testing.T) {
	t.Parallel()
	b := setup(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE issues (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES users ON DELETE CASCADE, title text);
		INSERT INTO users VALUES (1, NULL), (7, now() - interval '2 days');
		INSERT INTO issues VALUES (10, 7, 'by the subject'), (11, 1, 'by the ghost');`,
		"subject: {table: users, key: id, requested_at: gone, grace: 1d}\ntables:\n"+
			`  - {table: issues, match: author_id, action: keep, basis: "public record", set: {author_id: 1}}`+"\n")
	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, 2, b.db.Int(t, "SELECT count(*) FROM issues WHERE author_id = 1"))
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM users WHERE id = 7"))
	require.Equal(t, int64(1), rowsOf(r, "issues", "keep"))
	require.Equal(t, "passed", receiptOf(t, b, "7").Verification)
}
