package main

import (
	"fmt"
	"strings"
)

// table is one related table of a shape: its rows per user, and how its
// rows name the user.
type table struct {
	name string
	rows int
	// text: the match column is text holding the key, with no foreign
	// key (an audit log keyed by the user's id as text).
	text bool
	// anonymize: the policy anonymizes the rows instead of deleting them.
	anonymize bool
}

// shape is the schema a benchmark runs on.
type shape struct {
	name   string
	tables []table
	// heavy is how many extra rows one eligible subject holds in the table
	// heavyTable (0: none): a bot or an admin account.
	heavy      int
	heavyTable string
}

// shapes are the benchmark's schemas. "8x20" is the original shape: 8
// tables, 20 rows per user, every match column a bigint with a foreign
// key. "16-heavy" is issue 15's: 16 tables with every match column indexed,
// one text match column, and one subject with 20,000 rows.
var shapes = map[string]shape{
	"8x20": {name: "8x20", tables: []table{{"notes", 3, false, true}, {"sessions", 4, false, false}, {"comments", 3, false, false},
		{"likes", 3, false, false}, {"uploads", 2, false, false}, {"activity", 3, false, false}, {"messages", 1, false, false}, {"devices", 1, false, false}}},
	"16-heavy": {name: "16-heavy", heavy: 20000, heavyTable: "events", tables: []table{
		{"notes", 2, false, true}, {"sessions", 2, false, false}, {"comments", 2, false, false}, {"events", 2, false, false},
		{"audit_log", 1, true, false}, {"likes", 1, false, false}, {"uploads", 1, false, false}, {"activity", 1, false, false},
		{"messages", 1, false, false}, {"devices", 1, false, false}, {"follows", 1, false, false}, {"tokens", 1, false, false},
		{"addresses", 1, false, false}, {"payments", 1, false, false}, {"reviews", 1, false, false}, {"searches", 1, false, false}}},
}

func (s shape) rowsPerUser() int {
	n := 0
	for _, t := range s.tables {
		n += t.rows
	}
	return n
}

// matchCol is the column of t that names the user.
func (t table) matchCol() string {
	if t.text {
		return "actor"
	}
	return "user_id"
}

// schemaSQL creates and fills the shape's tables for users users, of which
// every step-th is eligible; the first eligible user (id step) is the heavy
// one.
func (s shape) schemaSQL(users, step int) string {
	var sql strings.Builder
	fmt.Fprintf(&sql, `CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, requested_at timestamptz, hold boolean NOT NULL DEFAULT false);
		INSERT INTO users SELECT i, 'user' || i || '@example.com',
			CASE WHEN i %% %d = 0 THEN now() - interval '40 days' END, false
		FROM generate_series(1, %d) i;
		CREATE INDEX ON users (requested_at) WHERE requested_at IS NOT NULL;`, step, users)
	for _, t := range s.tables {
		col, typ, val := "user_id", "bigint REFERENCES users (id)", "u"
		if t.text {
			col, typ, val = "actor", "text", "u::text"
		}
		fmt.Fprintf(&sql, `CREATE TABLE %[1]s (id bigserial PRIMARY KEY, %[4]s %[5]s, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
			INSERT INTO %[1]s (%[4]s, body) SELECT %[6]s, md5(u::text || k) FROM generate_series(1, %[2]d) u, generate_series(1, %[3]d) k ORDER BY random();`,
			t.name, users, t.rows, col, typ, val)
		if t.name == s.heavyTable && s.heavy > 0 {
			fmt.Fprintf(&sql, `INSERT INTO %[1]s (%[2]s, body) SELECT %[3]s, md5(k::text) FROM (SELECT %[4]d AS u) x, generate_series(1, %[5]d) k;`,
				t.name, col, val, step, s.heavy)
		}
		fmt.Fprintf(&sql, `CREATE INDEX ON %s (%s);`, t.name, col)
	}
	return sql.String()
}

// policyYAML is lethe's policy for the shape.
func (s shape) policyYAML() string {
	var b strings.Builder
	b.WriteString("subject: {table: users, key: id, requested_at: requested_at, grace: 30d, hold: hold}\ntables:\n")
	for _, t := range s.tables {
		if t.anonymize {
			fmt.Fprintf(&b, "  - {table: %s, match: %s, action: anonymize, set: {%[2]s: null, body: {pseudonym: 'gone-'}}}\n", t.name, t.matchCol())
			continue
		}
		fmt.Fprintf(&b, "  - {table: %s, match: %s, action: delete}\n", t.name, t.matchCol())
	}
	return b.String()
}

// setBasedSQL is one statement per table over the temporary table doomed
// (the eligible users' ids), as set-based code would erase them.
func (s shape) setBasedSQL() []string {
	var out []string
	for _, t := range s.tables {
		in := "user_id IN (SELECT id FROM doomed)"
		if t.text {
			in = "actor IN (SELECT id::text FROM doomed)"
		}
		q := "DELETE FROM " + t.name + " WHERE " + in
		if t.anonymize {
			q = "UPDATE " + t.name + " SET " + t.matchCol() + " = NULL, body = 'gone-' || md5(" + t.matchCol() + "::text) WHERE " + in
		}
		out = append(out, q)
	}
	return out
}

// naiveSQL is the statements of one subject ($1) in the naive loop.
func (s shape) naiveSQL() []string {
	var out []string
	for _, t := range s.tables {
		m := t.matchCol() + " = $1"
		if t.text {
			m = "actor = $1::bigint::text"
		}
		q := "DELETE FROM " + t.name + " WHERE " + m
		if t.anonymize {
			q = "UPDATE " + t.name + " SET " + t.matchCol() + " = NULL, body = 'gone-' || md5(" + t.matchCol() + "::text) WHERE " + m
		}
		out = append(out, q)
	}
	return out
}
