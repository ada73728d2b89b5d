package purge_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// noFKSchema has references to users that the database does not know:
// no foreign key, as in the large application of issue 12.
const noFKSchema = `
	CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, gone timestamptz);
	CREATE TABLE keys (id bigserial PRIMARY KEY, user_id bigint NOT NULL, key text);
	CREATE TABLE notes (id bigint PRIMARY KEY, author_id bigint, body text);
	CREATE TABLE note_votes (id bigserial PRIMARY KEY, note_id bigint NOT NULL);
	CREATE TABLE audit (id bigserial PRIMARY KEY, actor_email text, action text);
	INSERT INTO users VALUES (1, 'gone@example.com', now() - interval '2 days'), (2, 'stays@example.com', NULL);
	INSERT INTO keys (user_id, key) VALUES (1, 'ssh-a'), (2, 'ssh-b');
	INSERT INTO notes VALUES (10, 1, 'by the subject'), (11, 2, 'by another');
	INSERT INTO note_votes (note_id) VALUES (10), (10), (11);`

const noFKSubject = "subject: {table: users, key: id, requested_at: gone, grace: 1d}\n"

const noFKRefs = `references:
  - {table: keys, column: user_id}
  - {table: notes, column: author_id}
  - {table: note_votes, column: note_id, to: notes}
tables:
  - {table: keys, match: user_id, action: delete}
  - {table: notes, match: author_id, action: delete}
  - {table: note_votes, match: note_id, via: notes, action: delete}
`

func receiptOf(t *testing.T, b *bundle, key string) ledger.Receipt {
	t.Helper()
	rs, err := ledger.ReceiptsFor(context.Background(), b.db.Pool, subject.NewHasher(hashKey).Hash(key))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	return rs[0]
}

// TestUndeclaredReferencesPassUnseen reproduces issue 12: with no foreign
// key and no references:, a policy that names only the subject passes and
// its receipt says "passed" while keys and notes still point at the erased
// user. Declaring the references is what makes lethe see them (see
// TestDeclaredReferencesArePurged).
func TestUndeclaredReferencesPassUnseen(t *testing.T) {
	t.Parallel()
	b := setup(t, noFKSchema, noFKSubject)
	_, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, "passed", receiptOf(t, b, "1").Verification)
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM keys WHERE user_id = 1"), "the failure of issue 12")
}

// TestDeclaredReferencesArePurged: declared references are followed like
// foreign keys (direct and via), the rows are counted in the receipt, and
// a row that points at the subject at commit fails verification.
func TestDeclaredReferencesArePurged(t *testing.T) {
	t.Parallel()
	b := setup(t, noFKSchema, noFKSubject+noFKRefs)
	_, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM keys WHERE user_id = 1"))
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM notes WHERE author_id = 1"))
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM note_votes"), "votes on the subject's note go through the reference")
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM keys"))
	r := receiptOf(t, b, "1")
	require.Equal(t, "passed", r.Verification)
	rows := map[string]int64{}
	for _, rc := range r.Rows {
		rows[rc.Table+" "+rc.Action] = rc.Rows
	}
	require.Equal(t, int64(2), rows["note_votes delete"])
	require.Equal(t, int64(1), rows["keys delete"])

	// The application writes a key for the subject while the batch runs:
	// no foreign key stops it, verification finds it.
	b.db.Exec(t, "UPDATE users SET gone = now() - interval '2 days' WHERE id = 2")
	cfg := b.config()
	j, err := purge.New(cfg.Config)
	require.NoError(t, err)
	purge.SetHooks(j, nil, func(uint32) { b.db.Exec(t, "INSERT INTO keys (user_id, key) VALUES (2, 'written meanwhile')") }, nil)
	_, code = runJob(t, cfg, j)
	require.Equal(t, jobs.ExitFailed, code)
	v := receiptOf(t, b, "2").Verification
	require.True(t, strings.HasPrefix(v, "failed: keys still has 1 row"), v)
}

// TestOnReadsTheSubjectBeforeTheTombstone: an audit table that stores the
// email is purged by on: email, though the subject row's email is
// replaced in the same batch; the dry run counts the same rows.
func TestOnReadsTheSubjectBeforeTheTombstone(t *testing.T) {
	t.Parallel()
	const pol = `subject:
  table: users
  key: id
  requested_at: gone
  grace: 1d
  final: anonymize
  purged_at: purged_at
  set: {email: {pseudonym: "deleted-"}}
tables:
  - {table: audit, match: actor_email, on: email, action: delete}
`
	b := setup(t, noFKSchema+`
		ALTER TABLE users ADD COLUMN purged_at timestamptz;
		INSERT INTO audit (actor_email, action) VALUES ('gone@example.com', 'login'), ('gone@example.com', 'logout'), ('stays@example.com', 'login');`, pol)
	r, code := b.run(dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(2), rowsOf(r, "audit", "delete"))
	require.Equal(t, 3, b.db.Int(t, "SELECT count(*) FROM audit"), "a dry run changes nothing")

	r, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(2), rowsOf(r, "audit", "delete"))
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM audit WHERE actor_email = 'gone@example.com'"))
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM audit"))
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM users WHERE email LIKE 'deleted-%'"))
	require.Equal(t, "passed", receiptOf(t, b, "1").Verification)
}

func rowsOf(r *jobs.Report, table, action string) int64 {
	var n int64
	for _, rc := range r.RowCounts() {
		if rc.Table == table && rc.Action == action {
			n += rc.Rows
		}
	}
	return n
}

// TestVerificationSearchesOnColumns: verification looks for the email the
// subject row held before the tombstone replaced it, in the on: column,
// and the receipt says what it searched.
func TestVerificationSearchesOnColumns(t *testing.T) {
	t.Parallel()
	const pol = `subject:
  table: users
  key: id
  requested_at: gone
  grace: 1d
  final: anonymize
  purged_at: purged_at
  set: {email: {pseudonym: "deleted-"}}
references:
  - {table: keys, column: user_id}
tables:
  - {table: audit, match: actor_email, on: email, action: delete}
  - {table: keys, match: user_id, action: delete}
`
	b := setup(t, noFKSchema+`
		ALTER TABLE users ADD COLUMN purged_at timestamptz;
		INSERT INTO audit (actor_email, action) VALUES ('gone@example.com', 'login');`, pol)
	cfg := b.config()
	j, err := purge.New(cfg.Config)
	require.NoError(t, err)
	purge.SetHooks(j, nil, func(uint32) {
		b.db.Exec(t, "INSERT INTO audit (actor_email, action) VALUES ('gone@example.com', 'written meanwhile')")
	}, nil)
	_, code := runJob(t, cfg, j)
	require.Equal(t, jobs.ExitFailed, code)
	r := receiptOf(t, b, "1")
	require.True(t, strings.HasPrefix(r.Verification, "failed: audit still has 1 row"), r.Verification)
	require.NotContains(t, r.Verification, "example.com")
	require.Equal(t, []string{"audit.actor_email (the subject's email)", "keys.user_id", "users.id (tombstone)"}, r.Searched)
}
