package export

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// requestSQL are the request job's statements, built once per run from the
// checked export: section. Names are quoted by pgx; values are parameters,
// numbered as each comment says.
type requestSQL struct {
	// pending: count and oldest requested_at of requests not done.
	pending string
	// record: $1 batch size, $2 webhook on, $3 mail on; returns picked,
	// inserted.
	record string
	// done: $1 key, $2 requested_at; marks the application's request done.
	done string
	// finish: $1 export id, $2 key, $3 requested_at, $4 the channel just
	// delivered ("webhook", "email" or ""); records it, marks the
	// application's request done and the export done, in one statement.
	finish string
	// next: $1 ids failed in this run; the oldest written export with the
	// subject's address and row.
	next string
	// lockSubjects: $1 keys; those whose subject row it could lock KEY
	// SHARE, skipping rows an erasure holds.
	lockSubjects string
	// subjects: $1 keys; those whose subject row is there.
	subjects string
}

// requestColumns are the resolved columns of the export: section.
type requestColumns struct {
	subject *catalog.Table
	key     *catalog.Column
	email   *catalog.Column
	// column mode
	column *catalog.Column
	// table mode
	table                    *catalog.Table
	match, requestedAt, done *catalog.Column
}

func buildRequestSQL(c requestColumns) requestSQL {
	t := c.subject.Ident()
	k := c.key.Ident()
	hasEmail := "false"
	email := "NULL::text"
	if c.email != nil {
		hasEmail = fmt.Sprintf("NULLIF(btrim(s.%s::text), '') IS NOT NULL", c.email.Ident())
		email = "s." + c.email.Ident() + "::text"
	}
	var q requestSQL
	// requests: (k text, at timestamptz, has_email) of every pending request.
	var requests string
	if c.table == nil {
		col := "s." + c.column.Ident()
		requests = fmt.Sprintf(`SELECT s.%s::text AS k, %s::timestamptz AS at, %s AS has_email FROM %s s WHERE %s IS NOT NULL`,
			k, col, hasEmail, t, col)
		q.pending = fmt.Sprintf(`SELECT count(*), min(%s::timestamptz) FROM %s s WHERE %s IS NOT NULL`, col, t, col)
		q.done = fmt.Sprintf(`UPDATE %s s SET %s = NULL WHERE s.%s = $1::text::%s AND %s::timestamptz = $2`,
			t, c.column.Ident(), k, c.key.Type, col)
	} else {
		r := c.table.Ident()
		m, at, done := "r."+c.match.Ident(), "r."+c.requestedAt.Ident(), "r."+c.done.Ident()
		requests = fmt.Sprintf(`SELECT %s::text AS k, %s::timestamptz AS at, COALESCE((SELECT %s FROM %s s WHERE s.%s = %s::text::%s), false) AS has_email
			FROM %s r WHERE %s IS NULL AND %s IS NOT NULL AND %s IS NOT NULL`,
			m, at, hasEmail, t, k, m, c.key.Type, r, done, m, at)
		q.pending = fmt.Sprintf(`SELECT count(*), min(%s::timestamptz) FROM %s r WHERE %s IS NULL AND %s IS NOT NULL`, at, r, done, m)
		q.done = fmt.Sprintf(`UPDATE %s r SET %s = now() WHERE %s = $1::text::%s AND %s::timestamptz = $2 AND %s IS NULL`,
			r, c.done.Ident(), m, c.match.Type, at, done)
	}
	q.record = fmt.Sprintf(`WITH picked AS (
			SELECT q.k, q.at, q.has_email FROM (%s) q
			WHERE NOT EXISTS (SELECT 1 FROM lethe.exports e WHERE e.subject_key = q.k AND e.requested_at = q.at)
			ORDER BY q.at, q.k LIMIT $1),
		ins AS (
			INSERT INTO lethe.exports (subject_key, requested_at, needs_webhook, needs_email)
			SELECT DISTINCT k, at, $2::boolean, $3::boolean AND has_email FROM picked
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT (SELECT count(*) FROM picked), (SELECT count(*) FROM ins)`, requests)
	q.finish = fmt.Sprintf(`WITH app AS (%s RETURNING 1)
		UPDATE lethe.exports SET status = 'done', done_at = now(), subject_key = NULL, last_error = NULL,
			webhook_sent_at = CASE WHEN $4 = 'webhook' THEN now() ELSE webhook_sent_at END,
			email_sent_at = CASE WHEN $4 = 'email' THEN now() ELSE email_sent_at END,
			attempts = attempts + CASE WHEN $4 = '' THEN 0 ELSE 1 END
		WHERE id = $1::uuid`, strings.NewReplacer("$1", "$2", "$2", "$3").Replace(q.done))
	q.subjects = fmt.Sprintf(`SELECT s.%s::text FROM %s s WHERE s.%s = ANY($1::text[]::%s[])`, k, t, k, c.key.Type)
	q.lockSubjects = q.subjects + " FOR KEY SHARE OF s SKIP LOCKED"
	q.next = fmt.Sprintf(`SELECT e.id::text, e.subject_key, e.requested_at, e.archive, e.expires_at, now(),
			e.needs_webhook AND e.webhook_sent_at IS NULL, e.needs_email AND e.email_sent_at IS NULL, s.%[3]s IS NOT NULL, %[1]s,
			(SELECT jsonb_object_agg(x.key, x.value) FROM jsonb_each_text(to_jsonb(s)) x)
		FROM lethe.exports e LEFT JOIN %[2]s s ON s.%[3]s = e.subject_key::%[4]s
		WHERE e.status = 'written' AND e.id <> ALL($1::uuid[])
		ORDER BY e.written_at, e.id LIMIT 1 FOR UPDATE OF e SKIP LOCKED`, email, t, k, c.key.Type)
	return q
}

// resolveRequest resolves the export: section's columns against the
// plan's catalog; every problem goes into perr.
func resolveRequest(pl *plan.Plan, e *policy.ExportJob, perr *policy.Error) requestColumns {
	s := pl.Subject
	c := requestColumns{subject: s.Table, key: s.Key}
	timestamp := func(t *catalog.Table, id policy.Ident, what string) *catalog.Column {
		col, ok := t.Columns[id.Column()]
		switch {
		case !ok:
			perr.Add(e.Line, "export.request.%s: column %s does not exist in table %s", what, id, t)
		case col.Type != "timestamp with time zone" && col.Type != "timestamp without time zone" && col.Type != "date":
			perr.Add(e.Line, "export.request.%s: column %s of %s is %s, want timestamptz, timestamp or date", what, id, t, col.Type)
		default:
			return col
		}
		return nil
	}
	r := e.Request
	if !r.ByTable() {
		c.column = timestamp(s.Table, r.Column, "column")
	} else if t, ok := pl.Catalog.Lookup(r.Table); !ok {
		perr.Add(e.Line, "export.request.table: table %s does not exist", r.Table)
	} else {
		c.table = t
		if col, ok := t.Columns[r.Match.Column()]; ok {
			c.match = col
		} else {
			perr.Add(e.Line, "export.request.match: column %s does not exist in table %s", r.Match, t)
		}
		c.requestedAt = timestamp(t, r.RequestedAt, "requested_at")
		c.done = timestamp(t, r.DoneAt, "done_at")
	}
	if !e.Email.IsZero() {
		if col, ok := s.Table.Columns[e.Email.Column()]; !ok {
			perr.Add(e.Line, "export.email: column %s does not exist in table %s", e.Email, s.Table)
		} else if col.Category != "S" {
			perr.Add(e.Line, "export.email: column %s of %s is %s, want a text column", e.Email, s.Table, col.Type)
		} else {
			c.email = col
		}
	}
	return c
}
