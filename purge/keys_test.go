package purge_test

import (
	"fmt"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// A bigint-keyed account table in a mixed-case schema, with a
// self-reference, a text column holding the key, a via chain two levels
// deep and an integer column matching the bigint key.
const bigintSchema = `
CREATE SCHEMA "Crm";
CREATE TABLE "Crm"."Accounts" (
    "Id" bigint PRIMARY KEY,
    "Name" text NOT NULL,
    "Manager" bigint REFERENCES "Crm"."Accounts" ("Id"),
    "RequestedAt" timestamp,            -- without time zone: read as UTC
    "PurgedAt" timestamp
);
CREATE TABLE orders (id serial PRIMARY KEY, account_id integer NOT NULL REFERENCES "Crm"."Accounts" ("Id"));
CREATE TABLE order_lines (id serial PRIMARY KEY, order_id integer NOT NULL REFERENCES orders (id));
CREATE TABLE line_notes (id serial PRIMARY KEY, line_id integer NOT NULL, body text);
CREATE TABLE audit (id serial PRIMARY KEY, actor text);
`

const bigintPolicy = `
subject:
  table: '"Crm"."Accounts"'
  key: '"Id"'
  requested_at: '"RequestedAt"'
  grace: 7d
  final: anonymize
  purged_at: '"PurgedAt"'
  set: {'"Name"': {pseudonym: "gone-"}}
tables:
  - {table: '"Crm"."Accounts"', match: '"Manager"', action: anonymize, set: {'"Manager"': null}}
  - {table: orders, match: account_id, action: delete}
  - {table: order_lines, match: order_id, via: orders, action: delete}
  - {table: line_notes, match: line_id, via: order_lines, action: delete}
  - {table: audit, match: actor, action: anonymize, set: {actor: "x'); DROP TABLE audit; --"}}
`

func TestBigintKeyTombstoneAndDeepVia(t *testing.T) {
	t.Parallel()
	b := setup(t, bigintSchema, bigintPolicy)
	b.db.Exec(t, `INSERT INTO "Crm"."Accounts" VALUES
		(1, 'boss', NULL, now() AT TIME ZONE 'UTC' - interval '8 days', NULL),
		(2, 'worker', 1, NULL, NULL),
		(3, 'recent', 1, now() AT TIME ZONE 'UTC' - interval '7 days' + interval '1 minute', NULL)`)
	for _, acct := range []int{1, 2} {
		b.db.Exec(t, `WITH o AS (INSERT INTO orders (account_id) VALUES ($1) RETURNING id),
			l AS (INSERT INTO order_lines (order_id) SELECT id FROM o RETURNING id)
			INSERT INTO line_notes (line_id, body) SELECT id, 'n' FROM l`, acct)
		b.db.Exec(t, `INSERT INTO audit (actor) VALUES ($1::text)`, fmt.Sprint(acct))
	}
	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(1), r.Counter("subjects_done"))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM "Crm"."Accounts" WHERE "Id" = 1 AND "PurgedAt" IS NOT NULL AND "Name" LIKE 'gone-%'`),
		"final: anonymize leaves a tombstone")
	require.Equal(t, 0, b.db.Int(t, `SELECT count(*) FROM "Crm"."Accounts" WHERE "Manager" = 1`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM orders`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM order_lines`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM line_notes`), "rows two via-links away are deleted")
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM audit WHERE actor = $1`, "x'); DROP TABLE audit; --"),
		"a hostile value is written as the literal it is")
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM audit WHERE actor = '2'`))

	// The tombstone is never selected again.
	r, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Zero(t, r.Counter("subjects_done"))
	require.Zero(t, r.Counter("subjects_eligible"))
}

const textSchema = `
CREATE TABLE members (handle text PRIMARY KEY, gone_at timestamptz, on_hold boolean);
CREATE TABLE posts (id bigserial PRIMARY KEY, author text REFERENCES members (handle) ON DELETE SET NULL, body text);
CREATE TABLE follows (follower text NOT NULL REFERENCES members (handle) ON DELETE CASCADE,
                      followee text NOT NULL REFERENCES members (handle) ON DELETE CASCADE);
`

const textPolicy = `
subject: {table: members, key: handle, requested_at: gone_at, grace: 1h, hold: on_hold}
tables:
  - {table: posts, match: author, action: keep, basis: "public posts stay, unattributed", set: {author: null}}
  - {table: follows, match: follower, action: delete}
ignore:
  - {table: follows, column: followee, reason: "ON DELETE CASCADE removes the rows"}
`

func TestTextKeyAndCascade(t *testing.T) {
	t.Parallel()
	b := setup(t, textSchema, textPolicy)
	b.db.Exec(t, `INSERT INTO members VALUES ('alice', now() - interval '2 hours', NULL), ('bob', NULL, NULL),
		('carol', now() - interval '2 hours', true), ('O''Brien; DROP TABLE members', now() - interval '3 hours', false)`)
	b.db.Exec(t, `INSERT INTO posts (author, body) VALUES ('alice', 'a'), ('bob', 'b'), ('O''Brien; DROP TABLE members', 'o')`)
	b.db.Exec(t, `INSERT INTO follows VALUES ('alice', 'bob'), ('bob', 'alice'), ('bob', 'carol')`)
	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(2), r.Counter("subjects_done"))
	require.Equal(t, 2, b.db.Int(t, `SELECT count(*) FROM members`), "bob and the held carol stay; a hostile key is just a key")
	require.Equal(t, 2, b.db.Int(t, `SELECT count(*) FROM posts WHERE author IS NULL`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM follows`), "bob→alice goes by cascade, alice→bob by the rule")
	rows := map[string]int64{}
	for _, rc := range r.RowCounts() {
		rows[rc.Table+" "+rc.Action] = rc.Rows
	}
	require.Equal(t, int64(1), rows["follows cascade"])
	require.Equal(t, int64(1), rows["follows delete"])
}
