package plan_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// noFKSchema is an application that declared none of its references to
// users as foreign keys, like the large schema of issue 12.
const noFKSchema = `
	CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, gone timestamptz);
	CREATE TABLE keys (id bigint PRIMARY KEY, user_id bigint NOT NULL, key text);
	CREATE TABLE notes (id bigint PRIMARY KEY, author_id bigint, body text);
	CREATE TABLE note_votes (id bigint PRIMARY KEY, note_id bigint NOT NULL);
	CREATE TABLE audit (id bigint PRIMARY KEY, actor_email text, action text);`

func buildPolicy(t *testing.T, db *pgtest.DB, src string) (*plan.Plan, error) {
	t.Helper()
	p, err := policy.Parse([]byte(src), "p.yaml")
	require.NoError(t, err)
	return plan.Build(context.Background(), db.Pool, p)
}

// TestDeclaredReferencesNeedRules: without references: a policy that
// forgets keys and notes is accepted (the catalog has no foreign key to
// say otherwise); declared, each reference wants a rule or an ignore, as a
// foreign key would, and an ignore cannot leave rows pointing at a deleted
// subject.
func TestDeclaredReferencesNeedRules(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, noFKSchema)
	const subject = "subject: {table: users, key: id, requested_at: gone, grace: 1d}\n"
	_, err := buildPolicy(t, db, subject)
	require.NoError(t, err, "no foreign key: nothing to cover")

	refs := `references:
  - {table: keys, column: user_id, note: "has_many :keys"}
  - {table: notes, column: author_id}
  - {table: note_votes, column: note_id, to: notes}
`
	_, err = buildPolicy(t, db, subject+refs)
	var perr *policy.Error
	require.True(t, errors.As(err, &perr), "want a policy error, got %v", err)
	require.Contains(t, err.Error(), "keys.user_id references users(id) (declared at line 3): not covered")
	require.Contains(t, err.Error(), "notes.author_id references users(id) (declared at line 4): not covered")
	require.NotContains(t, err.Error(), "note_votes", "notes is not deleted: its references need nothing")

	_, err = buildPolicy(t, db, subject+refs+"ignore:\n  - {table: keys, column: user_id, reason: not personal}\n")
	require.ErrorContains(t, err, "ignore keys: keys.user_id references users(id) (declared at line 3), so deleting users rows would leave keys rows pointing at them")

	pl, err := buildPolicy(t, db, subject+refs+`tables:
  - {table: keys, match: user_id, action: delete}
  - {table: notes, match: author_id, action: delete}
  - {table: note_votes, match: note_id, via: notes, action: delete}
`)
	require.NoError(t, err)
	pos := map[string]int{}
	for i, s := range pl.Steps {
		pos[s.String()] = i
	}
	require.Less(t, pos["note_votes delete"], pos["notes delete"], "via a declared reference orders like a foreign key")
	var b strings.Builder
	pl.Describe(&b)
	require.Contains(t, b.String(), "where note_id → notes.id")
	require.Contains(t, b.String(), "declared at line 5")
	require.Len(t, pl.References, 3)
}

// TestDeclaredReferenceErrors: each wrong entry is named.
func TestDeclaredReferenceErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, noFKSchema+`
		CREATE TABLE nopk (a bigint, b bigint);
		CREATE TABLE odd (id bigint PRIMARY KEY, at timestamptz);
		CREATE TABLE two (a bigint, b bigint, PRIMARY KEY (a, b));`)
	const subject = "subject: {table: users, key: id, requested_at: gone, grace: 1d}\nreferences:\n"
	cases := []struct{ entry, want string }{
		{"{table: nokeys, column: user_id}", "reference from nokeys: table nokeys does not exist"},
		{"{table: keys, column: userid}", "reference from keys: column userid does not exist in table keys"},
		{"{table: keys, column: user_id, to: nope}", "reference from keys: table nope does not exist"},
		{"{table: keys, column: user_id, to_column: emial}", "column emial does not exist in table users"},
		{"{table: odd, column: at}", "reference from odd: at is timestamp with time zone but users.id is bigint"},
		{"{table: keys, column: user_id, to: nopk}", "nopk has no primary key: name to_column"},
		{"{table: keys, column: user_id, to: two}", "names 1 column but the primary key of two has 2"},
	}
	for _, tc := range cases {
		t.Run(tc.entry, func(t *testing.T) {
			_, err := buildPolicy(t, db, subject+"  - "+tc.entry+"\n")
			var perr *policy.Error
			require.True(t, errors.As(err, &perr), "want a policy error, got %v", err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestOnMatchesAnotherSubjectColumn: a rule with on: compares its match
// column with that column of the subject, which SQL and SelectSQL read in
// the same statement; without on:, an email column compared with a bigint
// key is a warning, since its sampled values never look like keys.
func TestOnMatchesAnotherSubjectColumn(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, noFKSchema+`
		INSERT INTO users VALUES (1, 'a@example.com', now()), (2, 'b@example.com', NULL);
		INSERT INTO audit VALUES (1, 'a@example.com', 'login'), (2, 'a@example.com', 'logout'), (3, 'b@example.com', 'login');`)
	const subject = "subject: {table: users, key: id, requested_at: gone, grace: 1d}\n"
	pl, err := buildPolicy(t, db, subject+"tables:\n  - {table: audit, match: actor_email, on: email, action: delete}\n")
	require.NoError(t, err)
	require.Empty(t, pl.Warnings)
	s := pl.Steps[0]
	ctx := context.Background()
	var k string
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, s.SQL(pl.Subject.Key, true, nil).SQL, []string{"1"}, []string{""}).Scan(&k, &n))
	require.Equal(t, "1", k)
	require.Equal(t, 2, n)
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM ("+s.SelectSQL(pl.Subject.Key, "t.*")+") x", []string{"1"}, []string{""}).Scan(&n))
	require.Equal(t, 2, n, "export reads the same rows")
	var b strings.Builder
	pl.Describe(&b)
	require.Contains(t, b.String(), "where actor_email = the subject's email")

	pl, err = buildPolicy(t, db, subject+"tables:\n  - {table: audit, match: actor_email, action: delete}\n")
	require.NoError(t, err)
	require.Len(t, pl.Warnings, 1)
	require.Contains(t, pl.Warnings[0], "rule for audit (line 3): none of the 3 sampled values of audit.actor_email looks like a users.id (bigint): it is compared with the subject's key; if it holds another column of the subject, say which with on:")
	require.NotContains(t, pl.Warnings[0], "example.com", "no value in a warning")

	_, err = buildPolicy(t, db, subject+"tables:\n  - {table: audit, match: actor_email, on: mail, action: delete}\n")
	require.ErrorContains(t, err, "rule for audit on: column mail does not exist in table users")
	_, err = buildPolicy(t, db, subject+"tables:\n  - {table: audit, match: id, on: email, action: delete}\n")
	require.ErrorContains(t, err, "rule for audit: match column id is bigint, but users.email is text")
}

// TestReferenceToAnotherSubjectColumnWantsOn: a reference declared to
// users(email) is covered by a rule that says on: email; one that
// compares with the key instead is refused.
func TestReferenceToAnotherSubjectColumnWantsOn(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, noFKSchema)
	const head = "subject: {table: users, key: id, requested_at: gone, grace: 1d}\nreferences:\n  - {table: audit, column: actor_email, to_column: email}\ntables:\n"
	_, err := buildPolicy(t, db, head+"  - {table: audit, match: actor_email, action: delete}\n")
	require.ErrorContains(t, err, "rule for audit matches actor_email, which references users(email): add on: email")
	_, err = buildPolicy(t, db, head+"  - {table: audit, match: actor_email, on: email, action: delete}\n")
	require.NoError(t, err)
}
