package export

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// TestBadKeyWritesNothing: a malformed or unknown key is a configuration
// error that names the problem without the key, and leaves no archive, no
// temporary file and no record.
func TestBadKeyWritesNothing(t *testing.T) {
	t.Parallel()
	b := sampleDB(t, 20)
	for _, tc := range []struct{ key, want string }{
		{"not-a-uuid; DROP TABLE users", "the subject key is not a valid uuid"},
		{jobtest.MD5UUID("nobody"), "no such subject in users"},
	} {
		path := tempArchive(t)
		err := b.exportErr(tc.key, toFile(path))
		require.ErrorContains(t, err, tc.want)
		require.NotContains(t, err.Error(), tc.key)
		require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err))
		entries, derr := os.ReadDir(filepath.Dir(path))
		require.NoError(t, derr)
		require.Empty(t, entries, "no archive, no temporary file")
		_, _, code := b.export(tc.key, dryRun)
		require.Equal(t, jobs.ExitConfig, code, "a dry run refuses it too")
	}
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'lethe'`), "nothing recorded")
}

// TestUnknownExcludedColumn: export.exclude naming a column the table does
// not have is a policy error, found before anything is read.
func TestUnknownExcludedColumn(t *testing.T) {
	t.Parallel()
	b := sampleDB(t, 20)
	p, err := policy.Parse([]byte(`subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30d
  export: {exclude: [pasword]}
tables:
  - {table: sessions, match: user_id, action: delete}
  - {table: '"UserProfiles"', match: '"userId"', action: delete}
  - {table: billing.invoices, match: user_id, action: delete}
  - {table: wishlists, match: user_id, action: delete}
  - {table: wishlist_items, match: wishlist_id, via: wishlists, action: delete}
  - {table: users, match: invited_by, action: anonymize, set: {invited_by: null}}
  - {table: documents, match: user_id, action: delete}
ignore:
  - {table: consent_records, reason: cascade}
`), "p.yaml")
	require.NoError(t, err)
	b.pol = p
	path := tempArchive(t)
	_, _, code := b.export(jobtest.MD5UUID("user6"), toFile(path))
	require.Equal(t, jobs.ExitConfig, code)
	_, err = os.Stat(path + ".tmp")
	require.ErrorIs(t, err, os.ErrNotExist)
	err = b.exportErr(jobtest.MD5UUID("user6"), dryRun)
	require.ErrorContains(t, err, "line 1: subject: export.exclude names column pasword, which does not exist in table users")
}

// TestFailureLeavesNoArchive: while the archive is written nothing is at the
// path; when the snapshot's connection dies after the first file, the
// export fails (exit 1), nothing is published at the path, the temporary
// file is gone and the run is recorded as failed.
func TestFailureLeavesNoArchive(t *testing.T) {
	t.Parallel()
	b := sampleDB(t, 20)
	path := tempArchive(t)
	killed := 0
	_, _, code := b.export(jobtest.MD5UUID("user6"), toFile(path), func(c *Config, _ *jobs.Limits) {
		c.afterPart = func(string) {
			// While the archive is written, nothing is at the path: a
			// crash here leaves no half archive where readers look.
			_, err := os.Stat(path)
			require.ErrorIs(t, err, os.ErrNotExist)
			_, err = os.Stat(path + ".tmp")
			require.NoError(t, err)
			if killed == 0 {
				killed = b.db.Int(t, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
					WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction'`)
			}
		}
	})
	require.Equal(t, 1, killed, "the export's snapshot was terminated")
	require.Equal(t, jobs.ExitFailed, code)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Empty(t, entries, "no archive, no temporary file")
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE job = 'export' AND status = 'failed'`))
}

// TestNoHashKeyWritesNothing: without LETHE_SUBJECT_HASH_KEY the manifest
// and the record could not name the subject: exit 2 before anything is
// read or written; a dry run needs no key.
func TestNoHashKeyWritesNothing(t *testing.T) {
	t.Parallel()
	b := sampleDB(t, 10)
	path := tempArchive(t)
	_, _, code := b.export(jobtest.MD5UUID("user6"), toFile(path), func(c *Config, _ *jobs.Limits) { c.Hasher = nil })
	require.Equal(t, jobs.ExitConfig, code)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Empty(t, entries)
	_, _, code = b.export(jobtest.MD5UUID("user6"), dryRun, func(c *Config, _ *jobs.Limits) { c.Hasher = nil })
	require.Equal(t, jobs.ExitOK, code)
}
