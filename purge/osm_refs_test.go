package purge_test

import (
	"context"
	"os"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// TestOSMDeclaredReferenceAndExecutingDryRun, on the OpenStreetMap
// schema: its polymorphic active_storage_attachments.record_id (a user's
// avatar has no foreign key) declared as a reference must be classified;
// the example policy draws no warning; and the executing dry run counts
// what the real run then does, changing nothing.
func TestOSMDeclaredReferenceAndExecutingDryRun(t *testing.T) {
	t.Parallel()
	schema := osmSchema(t)
	src, err := os.ReadFile("../examples/osm/policy.yaml")
	require.NoError(t, err)
	b := setup(t, schema, string(src))
	ctx := context.Background()

	declared := string(src) + "\nreferences:\n  - {table: active_storage_attachments, column: record_id, note: \"has_one_attached :avatar (polymorphic)\"}\n"
	p, err := policy.Parse([]byte(declared), "osm.yaml")
	require.NoError(t, err)
	_, err = plan.Build(ctx, b.db.Pool, p)
	require.ErrorContains(t, err, "active_storage_attachments.record_id references users(id) (declared at line")
	p, err = policy.Parse([]byte(string(src)+"  - {table: active_storage_attachments, column: record_id, reason: \"avatars: the application erases them\"}\n"+
		"references:\n  - {table: active_storage_attachments, column: record_id}\n"), "osm.yaml")
	require.NoError(t, err)
	pl, err := plan.Build(ctx, b.db.Pool, p)
	require.NoError(t, err, "final: anonymize keeps the tombstone: an ignored reference may point at it")
	require.Empty(t, pl.Warnings)

	b.db.Exec(t, `
		INSERT INTO users (id, email, pass_crypt, creation_time, display_name, status, deletion_requested_at)
		VALUES (1, 'mapper@example.com', 'h', now(), 'Mapper', 'active', now() - interval '15 days'),
		       (2, 'other@example.com', 'h', now(), 'Other', 'active', NULL);
		INSERT INTO languages (code, english_name) VALUES ('en', 'English') ON CONFLICT DO NOTHING;
		INSERT INTO diary_entries (id, user_id, title, body, created_at, updated_at) VALUES (20, 1, 't', 'b', now(), now());
		INSERT INTO diary_comments (diary_entry_id, user_id, body, created_at, updated_at) VALUES (20, 1, 'own', now(), now()), (20, 2, 'other', now(), now());
		INSERT INTO messages (from_user_id, to_user_id, title, body, sent_on) VALUES (1, 1, 'note to self', 'b', now()), (1, 2, 'hi', 'b', now());
		INSERT INTO notes (id, latitude, longitude, tile, updated_at, created_at, status, user_id, user_ip)
		VALUES (60, 1, 2, 3, now(), now(), 'open', 1, '198.51.100.4');`)
	snap := b.appSnapshotOf("public")
	dry, code := b.run(dryRun, executeDryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, snap, b.appSnapshotOf("public"), "the executing dry run rolled back")
	counted, code := b.run(dryRun)
	require.Equal(t, jobs.ExitOK, code)
	real, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, real.RowCounts(), dry.RowCounts())
	require.Equal(t, real.RowCounts(), counted.RowCounts(), "the message to self and the own comment on the own diary count once")
	require.Equal(t, int64(2), rowsOf(real, "messages", "delete"))
}
