package replay

import (
	"context"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

const keyA, keyB = "hash-key-a", "hash-key-b"

// receipts returns the receipts of db: hash → erased at, and how many
// are marked replayed.
func receipts(t *testing.T, db interface {
	Int(testing.TB, string, ...any) int
}) int {
	return db.Int(t, `SELECT count(*) FROM lethe.receipts WHERE replayed_at IS NOT NULL`)
}

func TestReplayErasesAgainWhatARestoreBroughtBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gone := []string{b.addUser(b.db, "anna", "45 days"), b.addUser(b.db, "ben", "45 days"), b.addUser(b.db, "cleo", "45 days")}
	b.addUser(b.db, "dora", "")
	backup := b.db.Clone(t) // the backup, taken before the purge
	b.purge(b.db, keyA)
	purged := b.app(b.db)
	require.NotEqual(t, purged, b.app(backup))

	restored := backup
	r, code := b.replay(restored, keyA, true)
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 3, r.Counter(SubjectsFound))
	require.EqualValues(t, 4, r.Counter(SubjectsScanned))
	require.NotEqual(t, purged, b.app(restored), "a dry run changes nothing")

	r, code = b.replay(restored, keyA, false)
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 3, r.Counter(jobs.SubjectsDone))
	require.Equal(t, purged, b.app(restored), "the restored database is as the purge left the live one")

	// Receipts are back, replayed, with the original erasure times.
	h := subject.NewHasher(keyA)
	for _, id := range gone {
		var orig, got time.Time
		require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT purged_at FROM lethe.receipts WHERE subject_hash = $1`, h.Hash(id)).Scan(&orig))
		require.NoError(t, restored.Pool.QueryRow(context.Background(), `SELECT purged_at FROM lethe.receipts WHERE subject_hash = $1 AND replayed_at IS NOT NULL AND journaled_at IS NOT NULL`, h.Hash(id)).Scan(&got))
		require.True(t, orig.Equal(got), "original erasure time %v, restored %v", orig, got)
	}
	require.Equal(t, 3, receipts(t, restored))

	// Again: nothing to do, nothing changes.
	r, code = b.replay(restored, keyA, false)
	require.Equal(t, jobs.ExitOK, code)
	require.Zero(t, r.Counter(SubjectsFound))
	require.Equal(t, purged, b.app(restored))
	require.Equal(t, 3, receipts(t, restored))
}

func TestReplayOnTheLiveDatabaseChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addUser(b.db, "erik", "45 days")
	b.addUser(b.db, "fred", "")
	b.purge(b.db, keyA)
	before := b.app(b.db)
	runs := b.db.Int(t, `SELECT count(*) FROM lethe.runs`)
	r, code := b.replay(b.db, keyA, false)
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 1, r.Counter(JournalEntries))
	require.Zero(t, r.Counter(SubjectsFound))
	require.Equal(t, before, b.app(b.db))
	require.Equal(t, runs, b.db.Int(t, `SELECT count(*) FROM lethe.runs`), "not even a run is recorded")
}

func TestReplayReportsAndKeepsASubjectOnHold(t *testing.T) {
	t.Parallel()
	b := setup(t)
	held := b.addUser(b.db, "gina", "45 days")
	other := b.addUser(b.db, "hugo", "45 days")
	backup := b.db.Clone(t)
	b.purge(b.db, keyA)
	backup.Exec(t, `UPDATE users SET legal_hold = true WHERE id = $1`, held)

	r, code := b.replay(backup, keyA, false)
	require.Equal(t, jobs.ExitGuard, code, "a person must decide")
	require.EqualValues(t, 1, r.Counter(SubjectsHeld))
	require.Equal(t, 1, backup.Int(t, `SELECT count(*) FROM users WHERE id = $1`, held))
	require.Zero(t, backup.Int(t, `SELECT count(*) FROM users WHERE id = $1`, other), "the others are erased")
}

func TestReplayFindsErasuresMadeWithAPreviousKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gone := b.addUser(b.db, "ines", "45 days")
	backup := b.db.Clone(t)
	b.purge(b.db, keyA) // then the key is rotated to keyB
	before := b.app(backup)

	_, code := b.replay(backup, keyB, false)
	require.Equal(t, jobs.ExitConfig, code, "the journal's key is unknown: refuse")
	require.Equal(t, before, b.app(backup), "and change nothing")

	r, code := b.replay(backup, keyB, false, keyA)
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 1, r.Counter(SubjectsFound))
	require.Zero(t, backup.Int(t, `SELECT count(*) FROM users WHERE id = $1`, gone))
	// The restored receipt is under the current key.
	require.Equal(t, 1, backup.Int(t, `SELECT count(*) FROM lethe.receipts WHERE subject_hash = $1`, subject.NewHasher(keyB).Hash(gone)))
}

func TestReplaySince(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addUser(b.db, "jan", "45 days")
	backup := b.db.Clone(t)
	b.purge(b.db, keyA)
	cfg := Config{Purge: b.purgeConfig(backup, keyA), Journal: b.journal, Since: time.Now().Add(time.Hour)}
	j, err := New(cfg)
	require.NoError(t, err)
	r, code := b.run(backup, j, keyA, jobs.Limits{})
	require.Equal(t, jobs.ExitOK, code)
	require.Zero(t, r.Counter(JournalEntries), "erasures before --since are not replayed")
}
