package purge_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/fixtures"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// osmSchema is the OpenStreetMap website's schema (fixtures.OSMSchema),
// plus the two columns an application adds to use lethe: when the person
// asked for deletion, and when the tombstone was made.
func osmSchema(t *testing.T) string {
	return fixtures.OSMSchema(t, "ALTER TABLE public.users ADD COLUMN deletion_requested_at timestamp, ADD COLUMN purged_at timestamp;")
}

// TestOSMCoverage: on a real application's schema, a policy that names only
// the subject is refused with every one of the 32 foreign keys into users.
func TestOSMCoverage(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, osmSchema(t))
	p, err := policy.Parse([]byte("subject: {table: users, key: id, requested_at: deletion_requested_at, grace: 14d}\n"), "min.yaml")
	require.NoError(t, err)
	_, err = plan.Build(context.Background(), db.Pool, p)
	var perr *policy.Error
	require.True(t, errors.As(err, &perr))
	require.Len(t, perr.Problems, 32)
	require.Contains(t, err.Error(), "messages.to_user_id references users(id)")
	require.Contains(t, err.Error(), "user_blocks.revoker_id references users(id)")
}

// TestOSMPurge runs the example OSM policy: private data goes, the map's
// history and moderation records stay attached to a tombstone.
func TestOSMPurge(t *testing.T) {
	t.Parallel()
	schema := osmSchema(t)
	pol, err := os.ReadFile("../examples/osm/policy.yaml")
	require.NoError(t, err)
	b := setup(t, schema, string(pol))
	b.db.Exec(t, `
		INSERT INTO users (id, email, pass_crypt, creation_time, display_name, status, deletion_requested_at, creation_address)
		VALUES (1, 'mapper@example.com', 'h', now(), 'Mapper', 'active', now() - interval '15 days', '192.0.2.7'),
		       (2, 'other@example.com', 'h', now(), 'Other', 'active', NULL, NULL),
		       (3, 'fresh@example.com', 'h', now(), 'Fresh', 'active', now() - interval '13 days', NULL);
		INSERT INTO changesets (id, user_id, created_at, closed_at) VALUES (10, 1, now(), now()), (11, 2, now(), now());
		INSERT INTO languages (code, english_name) VALUES ('en', 'English') ON CONFLICT DO NOTHING;
		INSERT INTO diary_entries (id, user_id, title, body, created_at, updated_at) VALUES (20, 1, 't', 'b', now(), now()), (21, 2, 't', 'b', now(), now());
		INSERT INTO diary_comments (diary_entry_id, user_id, body, created_at, updated_at)
		VALUES (20, 2, 'comment by other on mapper''s diary', now(), now()), (21, 1, 'comment by mapper', now(), now()), (21, 2, 'own', now(), now());
		INSERT INTO messages (from_user_id, to_user_id, title, body, sent_on) VALUES (1, 2, 'hi', 'b', now()), (2, 1, 're', 'b', now()), (2, 3, 'x', 'b', now());
		INSERT INTO friends (user_id, friend_user_id) VALUES (1, 2), (2, 1), (2, 3);
		INSERT INTO user_blocks (user_id, creator_id, reason, ends_at) VALUES (1, 2, 'spam', now());`)

	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(1), r.Counter("subjects_done"))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM users WHERE id = 1 AND status = 'deleted' AND purged_at IS NOT NULL
		AND display_name LIKE 'user\_%' AND email LIKE 'deleted-%' AND creation_address IS NULL`), "the account is a tombstone")
	require.Equal(t, 2, b.db.Int(t, `SELECT count(*) FROM changesets`), "map edits stay")
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM user_blocks WHERE user_id = 1`), "moderation records stay")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM diary_entries WHERE user_id = 1`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM diary_comments`), "comments on the mapper's diary and by the mapper go")
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM messages`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM friends`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM users WHERE id = 3 AND status = 'active'`), "inside the grace period")

	snap := b.appSnapshotOf("public")
	r, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Zero(t, r.Counter("subjects_done"), "a tombstone is never purged again")
	require.Equal(t, snap, b.appSnapshotOf("public"))
}
