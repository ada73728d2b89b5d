package inactivity_test

import (
	"testing"

	"github.com/lethe-project/lethe/inactivity"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// TestFullCycle: warn (webhook and mail) → still inactive → deletion
// requested → purged after the grace period, leaving nothing of the subject
// in lethe's schema but the receipt's keyed hash.
func TestFullCycle(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook", "smtp")
	gone := b.user("gone", 400)
	active := b.user("active", 10)
	held := b.user("held", 400)
	b.db.Exec(t, `UPDATE users SET legal_hold = true WHERE id = $1`, held)
	asked := b.user("asked", 400)
	b.db.Exec(t, `UPDATE users SET deleted_at = now() - interval '1 day' WHERE id = $1`, asked)
	noMail := b.user("nomail", 400, "no-email")

	r, code := b.run()
	require.Equal(t, 0, code)
	require.EqualValues(t, 2, r.Counter("warned"))
	require.Len(t, b.hook.forKey(gone), 1)
	require.Len(t, b.hook.forKey(noMail), 1, "a subject without an address is warned by webhook only")
	for _, k := range []string{active, held, asked} {
		require.Empty(t, b.hook.forKey(k))
		require.Zero(t, b.notices(k))
	}
	ev := b.hook.forKey(gone)[0]
	require.Equal(t, ev.ev.NoticeID, ev.key, "the Idempotency-Key is the notice id")
	require.NotNil(t, ev.ev.DeletionRequestedAt)
	msgs := b.smtp.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "gone@example.com", msgs[0].To)
	require.True(t, msgs[0].TLS, "the mail went over STARTTLS")
	require.Equal(t, "<"+inactivity.MessageID(ev.key, "example.com")+">", msgs[0].MessageID)
	require.Contains(t, msgs[0].Raw, "User gone")
	require.Contains(t, msgs[0].Subject, "Your account will be deleted on")
	require.Contains(t, msgs[0].Raw, "text/html")

	// Nothing new while the warning period runs.
	r, code = b.run()
	require.Equal(t, 0, code)
	require.Zero(t, r.Counter("warned"))
	require.Zero(t, r.Counter("deletion_requested"))
	b.advance(29 * day)
	r, _ = b.run()
	require.Zero(t, r.Counter("deletion_requested"))
	require.False(t, b.requested(gone))

	b.advance(2 * day)
	r, code = b.run()
	require.Equal(t, 0, code)
	require.EqualValues(t, 2, r.Counter("deletion_requested"))
	require.True(t, b.requested(gone))
	require.True(t, b.requested(noMail))
	require.False(t, b.requested(held))
	require.Equal(t, "requested", b.status(gone))
	require.Len(t, b.hook.forKey(gone), 1, "never a second warning")
	require.Len(t, b.smtp.Messages(), 1)

	// The purge's grace period starts now: only the subject who asked by
	// itself 32 days ago goes; the inactive ones go 30 days later.
	pr, code := b.purge()
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, pr.Counter("subjects_done"))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE id = $1`, asked))
	b.advance(31 * day)
	pr, code = b.purge()
	require.Equal(t, 0, code)
	require.EqualValues(t, 2, pr.Counter("subjects_done"))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE id = ANY($1::uuid[])`, []string{gone, noMail}))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.notices`), "the purge took the notices with the subjects")
	r, code = b.run()
	require.Equal(t, 0, code)
	require.Zero(t, r.Counter("warned"))
	require.Len(t, b.hook.requests(), 2)
}

func TestLetheSchemaForgetsErasedSubject(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	gone := b.user("gone", 400)
	_, code := b.run()
	require.Equal(t, 0, code)
	b.advance(31 * day)
	_, code = b.run()
	require.Equal(t, 0, code)
	require.True(t, b.requested(gone))
	b.advance(31 * day)
	pr, code := b.purge()
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, pr.Counter("subjects_done"))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE id = $1`, gone))
	require.Zero(t, b.notices(gone), "the purge deleted the subject's notices")
	for table, rows := range b.db.Snapshot(t, "lethe") {
		for _, row := range rows {
			require.NotContains(t, row, gone, "lethe.%s still holds the erased subject's key", table)
		}
	}
	h := subject.NewHasher(hashKey).Hash(gone)
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.receipts WHERE subject_hash = $1`, h))
}
