package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// A uuid written the ways PostgreSQL accepts it (upper case, braces, no
// dashes) names one subject: erase takes any form, records the canonical
// one, and receipt finds it from any form.
func TestEraseAndReceiptAgreeOnAnyFormOfAUUIDKey(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 60)
	id := jobtest.MD5UUID("user7")
	upper := "{" + strings.ToUpper(id) + "}"
	r := lethe(t, env, "erase", "--subject", upper, "--confirm")
	require.Equal(t, 0, r.Code)
	for _, form := range []string{id, strings.ToUpper(id), upper, strings.ReplaceAll(id, "-", "")} {
		r = lethe(t, env, "receipt", "--subject", form)
		require.Equal(t, 0, r.Code, "receipt for %q", form)
		require.Contains(t, r.Stdout, "subject "+subject.NewHasher("test-key").Hash(id)+" erased")
	}

	r = lethe(t, env, "receipt", "--subject", "not-a-uuid-secret")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "the subject key is not a valid uuid")
	require.NotContains(t, r.Stdout+r.Stderr, "not-a-uuid-secret")
}

const intKeySchema = `
CREATE TABLE users (id bigint PRIMARY KEY, deleted_at timestamptz);
CREATE TABLE sessions (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id));
CREATE TABLE accounts (handle varchar(5) PRIMARY KEY, deleted_at timestamptz);
INSERT INTO users VALUES (42, NULL), (7, NULL);
INSERT INTO sessions (user_id) VALUES (42), (42), (7);
INSERT INTO accounts VALUES ('abcde', NULL), ('xy', NULL);
`

func intKeyEnv(t *testing.T, db *pgtest.DB, pol string) []string {
	p := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(p, []byte(pol), 0o600))
	return []string{"LETHE_DATABASE_URL=" + db.URL, "LETHE_POLICY=" + p, "LETHE_SUBJECT_HASH_KEY=test-key"}
}

// An integer key written " 0042" erases subject 42 and its receipt is
// found as "42"; a key out of the type's range is a usage error (exit 2)
// that never repeats the key, in erase and in receipt.
func TestIntegerKeysAreCanonicalAndOutOfRangeIsAUsageError(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, intKeySchema)
	env := intKeyEnv(t, db, `subject: {table: users, key: id, requested_at: deleted_at, grace: 1d}
tables:
  - {table: sessions, match: user_id, action: delete}
`)
	r := lethe(t, env, "erase", "--subject", " 0042", "--confirm")
	require.Equal(t, 0, r.Code)
	require.Equal(t, 0, db.Int(t, `SELECT count(*) FROM users WHERE id = 42`))
	require.Equal(t, 1, db.Int(t, `SELECT count(*) FROM sessions`))
	for _, form := range []string{"42", "0042", " 42 ", "+42"} {
		r = lethe(t, env, "receipt", "--subject", form)
		require.Equal(t, 0, r.Code, "receipt for %q", form)
	}

	const huge = "99999999999999999999"
	before := db.Snapshot(t, "public")
	for _, cmd := range [][]string{{"erase", "--subject", huge, "--confirm"}, {"receipt", "--subject", huge}, {"erase", "--subject", "4" + huge + "2"}} {
		r = lethe(t, env, cmd...)
		require.Equal(t, 2, r.Code, "%v", cmd)
		require.Contains(t, r.Stderr, "the subject key is not a valid bigint")
		require.NotContains(t, r.Stdout+r.Stderr, huge)
	}
	require.Equal(t, before, db.Snapshot(t, "public"))
}

// A text key longer than its varchar(5) column would be cut to five
// characters by a cast and name another subject: it is refused.
func TestTextKeyLongerThanItsColumnIsRefused(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, intKeySchema)
	env := intKeyEnv(t, db, "subject: {table: accounts, key: handle, requested_at: deleted_at, grace: 1d}\n")
	r := lethe(t, env, "erase", "--subject", "abcdefgh", "--confirm")
	require.Equal(t, 2, r.Code)
	require.NotContains(t, r.Stdout+r.Stderr, "abcdefgh")
	require.Equal(t, 2, db.Int(t, `SELECT count(*) FROM accounts`), "abcde is not erased for abcdefgh")
	r = lethe(t, env, "erase", "--subject", "xy", "--confirm")
	require.Equal(t, 0, r.Code)
	require.Equal(t, 1, db.Int(t, `SELECT count(*) FROM accounts`))
}
