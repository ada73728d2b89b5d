package inactivity

import (
	"fmt"

	"github.com/lethe-project/lethe/catalog"
)

// noNotices stands in for lethe.notices in read-only counts when the ledger
// has not been migrated yet (a first dry run must change nothing).
const noNotices = `(SELECT NULL::uuid AS id, NULL::text AS subject_key, NULL::timestamptz AS last_active_at,
	NULL::text AS status, NULL::timestamptz AS sent_at WHERE false)`

// queries are the statements a run uses, built once from the checked plan
// and the inactivity: section. Names are quoted by pgx; values are
// parameters, numbered per statement as its comment says (the counts take
// $1 after and $2 warn).
type queries struct {
	stats, statsNoLedger string
	// total counts the subject table's rows, at most $1 of them: the
	// blast-radius guard's total (jobs.Limits.GuardTotalCap).
	total        string
	recordBatch  string
	nextNotice   string
	requestBatch string
	closeBatch   string
	forgetGone   string
}

// columns are the resolved columns a run needs.
type columns struct {
	table                   *catalog.Table
	key, requested, hold    *catalog.Column
	purgedAt, lastActive    *catalog.Column
	email                   *catalog.Column
	needsWebhook, needsMail bool
}

func buildQueries(c columns) queries {
	t := c.table.Ident()
	key := "t." + c.key.Ident()
	la := "t." + c.lastActive.Ident() + "::timestamptz"
	keyOf := func(text string) string { return fmt.Sprintf("%s = %s::%s", key, text, c.key.Type) }

	// open: may be handed on, and may be warned.
	open := "t." + c.requested.Ident() + " IS NULL"
	if c.hold != nil {
		open += " AND t." + c.hold.Ident() + " IS NOT TRUE"
	}
	if c.purgedAt != nil {
		open += " AND t." + c.purgedAt.Ident() + " IS NULL"
	}
	hasEmail := "false"
	if c.email != nil {
		hasEmail = fmt.Sprintf("NULLIF(btrim(t.%s::text), '') IS NOT NULL", c.email.Ident())
	}
	// A subject can be warned when a channel can reach it: the webhook
	// always can, a mail only with an address.
	reachable := "true"
	if !c.needsWebhook {
		reachable = hasEmail
	}
	candidate := func(notices string) string {
		return fmt.Sprintf(`%s < now() - $1::interval AND %s
			AND NOT EXISTS (SELECT 1 FROM %s n WHERE n.subject_key = %s::text
				AND (n.status IN ('pending', 'sent') OR n.last_active_at >= %s))`, la, open, notices, key, la)
	}
	due := func(warn string) string {
		return fmt.Sprintf(`n.status = 'sent' AND n.sent_at <= now() - %s::interval AND %s <= n.last_active_at AND %s`, warn, la, open)
	}
	back := fmt.Sprintf(`n.status IN ('pending', 'sent') AND %s > n.last_active_at`, la)

	stats := func(notices string) string {
		return fmt.Sprintf(`SELECT
			(SELECT count(*) FROM %[1]s t WHERE %[2]s AND %[3]s),
			(SELECT count(*) FROM %[1]s t WHERE %[2]s AND NOT (%[3]s)),
			(SELECT count(*) FROM %[4]s n JOIN %[1]s t ON %[5]s WHERE %[6]s),
			(SELECT count(*) FROM %[4]s n JOIN %[1]s t ON %[5]s WHERE %[7]s),
			(SELECT count(*) FROM %[4]s n WHERE n.status = 'pending')`,
			t, candidate(notices), reachable, notices, keyOf("n.subject_key"), due("$2"), back)
	}
	var q queries
	q.stats = stats("lethe.notices")
	q.statsNoLedger = stats(noNotices)
	q.total = fmt.Sprintf(`SELECT count(*) FROM (SELECT FROM %s LIMIT $1) t`, t)

	// $2 batch size, $3 webhook channel on, $4 mail channel on.
	q.recordBatch = fmt.Sprintf(`WITH picked AS (
			SELECT %[1]s::text AS k, %[2]s AS la, %[3]s AS has_email FROM %[4]s t
			WHERE %[5]s AND %[6]s
			ORDER BY t.%[7]s, %[1]s LIMIT $2 FOR UPDATE OF t SKIP LOCKED),
		ins AS (
			INSERT INTO lethe.notices (subject_key, last_active_at, needs_webhook, needs_email)
			SELECT k, la, $3, $4 AND has_email FROM picked
			ON CONFLICT DO NOTHING RETURNING 1)
		SELECT (SELECT count(*) FROM picked), (SELECT count(*) FROM ins)`,
		key, la, hasEmail, t, candidate("lethe.notices"), reachable, c.lastActive.Ident())

	// $1 ids already failed in this run. The subject row is read for the
	// message; its absence means the subject is gone.
	email := "NULL::text"
	if c.email != nil {
		email = "t." + c.email.Ident() + "::text"
	}
	q.nextNotice = fmt.Sprintf(`SELECT n.id::text, n.subject_key, n.last_active_at,
			n.needs_webhook AND n.webhook_sent_at IS NULL, n.needs_email AND n.email_sent_at IS NULL,
			now(), %[1]s IS NOT NULL, %[2]s, %[3]s,
			(SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each_text(to_jsonb(t)) e)
		FROM lethe.notices n LEFT JOIN %[4]s t ON %[5]s
		WHERE n.status = 'pending' AND n.id <> ALL($1::uuid[])
		ORDER BY n.created_at, n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED`,
		key, la, email, t, keyOf("n.subject_key"))

	// $1 warn, $2 batch size. Both rows are locked: the subject's so that
	// the application's concurrent update of last_active is not lost.
	q.requestBatch = fmt.Sprintf(`WITH due AS (
			SELECT n.id, %[1]s AS k FROM lethe.notices n JOIN %[2]s t ON %[3]s
			WHERE %[4]s
			ORDER BY n.sent_at, n.id LIMIT $2 FOR UPDATE OF n, t SKIP LOCKED),
		req AS (
			UPDATE %[2]s t SET %[5]s = now() FROM due WHERE %[1]s = due.k RETURNING %[1]s::text AS k),
		done AS (
			UPDATE lethe.notices n SET status = 'requested', requested_at = now() FROM due WHERE n.id = due.id RETURNING 1)
		SELECT k, (SELECT count(*) FROM done) FROM req`,
		key, t, keyOf("n.subject_key"), due("$1"), c.requested.Ident())

	// $1 batch size.
	q.closeBatch = fmt.Sprintf(`WITH back AS (
			SELECT n.id FROM lethe.notices n JOIN %s t ON %s WHERE %s
			ORDER BY n.id LIMIT $1 FOR UPDATE OF n SKIP LOCKED)
		UPDATE lethe.notices n SET status = 'closed', closed_at = now() FROM back WHERE n.id = back.id`,
		t, keyOf("n.subject_key"), back)

	// Notices of subjects that the application deleted by itself hold a
	// key that no longer means anything to keep.
	q.forgetGone = fmt.Sprintf(`DELETE FROM lethe.notices n WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE %s)`,
		t, keyOf("n.subject_key"))
	return q
}
