package export

import (
	"testing"

	"github.com/lethe-project/lethe/internal/fixtures"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// osmSchema is the OpenStreetMap website's schema (fixtures.OSMSchema),
// plus the two columns an application adds to use lethe: when the person
// asked for deletion, and when the tombstone was made.
func osmSchema(t *testing.T) string {
	return fixtures.OSMSchema(t, "ALTER TABLE public.users ADD COLUMN deletion_requested_at timestamp, ADD COLUMN purged_at timestamp;")
}

// TestOSMExportMatchesErasure: on a real application's schema and its
// example policy, the export of a mapper holds exactly what the erasure
// would touch, table by table, every row reads back unchanged, and the
// password hash and OAuth secrets are left out by default.
func TestOSMExportMatchesErasure(t *testing.T) {
	t.Parallel()
	b := setup(t, osmSchema(t), read(t, "../examples/osm/policy.yaml"))
	b.db.Exec(t, `
		INSERT INTO users (id, email, pass_crypt, pass_salt, creation_time, display_name, status, creation_address, home_lat)
		VALUES (1, 'mapper@example.com', 'h', 's', '2024-05-01 12:00:00.5', 'Mapper', 'active', '192.0.2.7', 51.5),
		       (2, 'other@example.com', 'h', 's', now(), 'Other', 'active', NULL, NULL),
		       (3, 'third@example.com', 'h', 's', now(), 'Third', 'active', NULL, NULL);
		INSERT INTO changesets (id, user_id, created_at, closed_at) VALUES (10, 1, now(), now()), (11, 2, now(), now());
		INSERT INTO languages (code, english_name) VALUES ('en', 'English') ON CONFLICT DO NOTHING;
		INSERT INTO diary_entries (id, user_id, title, body, created_at, updated_at) VALUES (20, 1, 't', 'b', now(), now()), (21, 2, 't', 'b', now(), now());
		INSERT INTO diary_comments (diary_entry_id, user_id, body, created_at, updated_at)
		VALUES (20, 2, 'comment by other on mapper''s diary', now(), now()), (21, 1, 'comment by mapper', now(), now()), (21, 2, 'own', now(), now());
		INSERT INTO messages (from_user_id, to_user_id, title, body, sent_on) VALUES (1, 2, 'hi', 'b', now()), (2, 1, 're', 'b', now()), (2, 3, 'x', 'b', now());
		INSERT INTO friends (user_id, friend_user_id) VALUES (1, 2), (2, 1), (2, 3);
		INSERT INTO user_blocks (user_id, creator_id, reason, ends_at) VALUES (1, 2, 'spam', now());
		INSERT INTO oauth_applications (id, owner_type, owner_id, name, uid, secret, redirect_uri, created_at, updated_at)
		VALUES (30, 'User', 1, 'app', 'uid1', 'app-secret', 'https://example.com/cb', now(), now());
		INSERT INTO oauth_access_tokens (id, resource_owner_id, application_id, token, refresh_token, created_at)
		VALUES (40, 2, 30, 'tok-2', 'ref-2', now()), (41, 1, 30, 'tok-1', NULL, now());
		INSERT INTO gpx_files (id, user_id, name, size, latitude, longitude, "timestamp", description, inserted)
		VALUES (50, 1, 'trace.gpx', 10, 51.5, -0.12, '2025-01-02 03:04:05.678', 'morning ride', true);
		INSERT INTO gps_points (altitude, trackid, latitude, longitude, gpx_id, "timestamp", tile)
		VALUES (12.5, 1, 515000000, -1200000, 50, '2025-01-02 03:04:05', 123456789012);
		INSERT INTO notes (id, latitude, longitude, tile, updated_at, created_at, status, user_id, user_ip)
		VALUES (60, 1, 2, 3, now(), now(), 'open', 1, '198.51.100.4');
		INSERT INTO user_preferences (user_id, k, v) VALUES (1, 'lang', 'en'), (2, 'lang', 'de');`)
	key := "1"

	_, dry, code := b.export(key, dryRun)
	require.Equal(t, jobs.ExitOK, code)
	erase := b.eraseDryRun(key)
	require.Equal(t, erase, dry.Rows)
	for _, k := range []string{"users anonymize", "changesets keep", "diary_comments delete", "oauth_access_tokens delete", "gps_points delete", "notes anonymize", "user_blocks keep"} {
		require.NotZero(t, erase[k], k)
	}

	path := tempArchive(t)
	_, r, code := b.export(key, toFile(path))
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, erase, r.Rows)
	m, files := openArchive(t, path)
	require.Equal(t, erase, rowsOf(m))
	checkRoundTrip(t, b, m, files)

	excluded := map[string][]string{}
	for _, e := range m.Tables {
		excluded[e.File] = e.Excluded
	}
	require.Subset(t, excluded["tables/public.users.jsonl"], []string{"pass_crypt", "pass_salt"})
	require.Subset(t, excluded["tables/public.oauth_applications.jsonl"], []string{"secret"})
	require.Subset(t, excluded["tables/public.oauth_access_tokens.application_id.jsonl"], []string{"token", "refresh_token", "previous_refresh_token"})
	require.Len(t, files["tables/public.oauth_access_tokens.application_id.jsonl"], 2, "tokens granted to the mapper's app, via oauth_applications")
	require.Contains(t, files["tables/public.users.jsonl"][0], `"creation_time":"2024-05-01T12:00:00.5+00:00"`)
}
