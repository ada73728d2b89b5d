package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// TestCheckWarnsWithoutAJournal: issue 14. lethe check says when no
// erasure journal is configured, and not when one is.
func TestCheckWarnsWithoutAJournal(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 20)
	r := lethe(t, env, "check")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stderr, "warning: no erasure journal (LETHE_JOURNAL)")
	r = lethe(t, append(env, "LETHE_JOURNAL=file://"+t.TempDir()+"/"), "check")
	require.Equal(t, 0, r.Code)
	require.NotContains(t, r.Stderr, "no erasure journal")
}

// TestBadJournalSettingsExit2: each is named, nothing runs.
func TestBadJournalSettingsExit2(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 20)
	before := db.Snapshot(t, "public", "billing")
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"LETHE_JOURNAL=journal/"}, []string{"--job", "purge"}, "LETHE_JOURNAL: journal location"},
		{[]string{"LETHE_JOURNAL=s3://bucket/prefix"}, []string{"--job", "purge"}, `the prefix must end in "/"`},
		{[]string{"LETHE_JOURNAL_RETENTION=forever"}, []string{"--job", "purge"}, "LETHE_JOURNAL_RETENTION"},
		{nil, []string{"replay", "--since", "last week"}, "--since"},
		{nil, []string{"replay"}, "lethe replay needs the erasure journal: set LETHE_JOURNAL"},
	} {
		r := lethe(t, append(append([]string{}, env...), c.env...), c.args...)
		require.Equal(t, 2, r.Code, c.args)
		require.Contains(t, r.Stderr, c.want)
	}
	require.Equal(t, before, db.Snapshot(t, "public", "billing"))
	require.Zero(t, db.Int(t, `SELECT count(*) FROM pg_namespace WHERE nspname = 'lethe'`))
}

// TestReceiptAcceptsPreviousKeys: after a rotation, lethe receipt finds a
// receipt made with the previous key.
func TestReceiptAcceptsPreviousKeys(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 100)
	require.Equal(t, 0, lethe(t, env, "--job", "purge").Code)
	id := jobtest.MD5UUID("user20")
	rotated := append(append([]string{}, env[:2]...), "LETHE_SUBJECT_HASH_KEY=new-key")
	r := lethe(t, rotated, "receipt", "--subject", id)
	require.Equal(t, 2, r.Code)
	r = lethe(t, append(rotated, "LETHE_SUBJECT_HASH_KEYS_PREVIOUS=older-key, test-key"), "receipt", "--subject", id)
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "erased at")
}

// TestEraseIsJournaled: lethe erase --confirm writes its receipt to the
// journal too, and nothing of the subject but its keyed hash.
func TestEraseIsJournaled(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 20)
	dir := t.TempDir()
	env = append(env, "LETHE_JOURNAL=file://"+dir+"/")
	id := jobtest.MD5UUID("user3")
	r := lethe(t, env, "erase", "--subject", id, "--confirm")
	require.Equal(t, 0, r.Code)
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, 1)
	body := readFile(t, filepath.Join(dir, files[0].Name()))
	require.Contains(t, body, subject.NewHasher("test-key").Hash(id))
	require.NotContains(t, body, id)
	require.NotContains(t, body, "user3")
}
