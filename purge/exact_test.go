package purge_test

import (
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestDryRunCountsARowMatchedTwiceOnce: a message the subject sent to
// themselves matches both messages rules, and a comment by the subject on
// their own diary both diary_comments rules: the real run deletes each
// once, and the dry run now says so.
func TestDryRunCountsARowMatchedTwiceOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE messages (id bigint PRIMARY KEY, from_user_id bigint REFERENCES users, to_user_id bigint REFERENCES users);
		CREATE TABLE diary (id bigint PRIMARY KEY, user_id bigint REFERENCES users);
		CREATE TABLE comments (id bigint PRIMARY KEY, diary_id bigint REFERENCES diary, user_id bigint REFERENCES users);
		INSERT INTO users VALUES (1, now() - interval '2 days'), (2, NULL);
		INSERT INTO messages VALUES (10, 1, 1), (11, 1, 2), (12, 2, 1), (13, 2, 2);
		INSERT INTO diary VALUES (20, 1), (21, 2);
		INSERT INTO comments VALUES (30, 20, 1), (31, 20, 2), (32, 21, 1), (33, 21, 2);`,
		`subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: messages, match: from_user_id, action: delete}
  - {table: messages, match: to_user_id, action: delete}
  - {table: comments, match: diary_id, via: diary, action: delete}
  - {table: comments, match: user_id, action: delete}
  - {table: diary, match: user_id, action: delete}
`)
	dry, code := b.run(dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(3), rowsOf(dry, "messages", "delete"))
	require.Equal(t, int64(3), rowsOf(dry, "comments", "delete"))
	real, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, real.RowCounts(), dry.RowCounts())
}
