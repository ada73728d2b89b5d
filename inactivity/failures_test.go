package inactivity_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/lethe-project/lethe/inactivity"
	"github.com/stretchr/testify/require"
)

// TestWebhookFailures: a 5xx, a timeout and a receiver that is down mark
// nothing sent, exit 1, and never let the deletion step run; the next run
// delivers with the same identity.
func TestWebhookFailures(t *testing.T) {
	t.Parallel()
	for name, fault := range map[string]func(b *bundle) func(){
		"5xx": func(b *bundle) func() { b.hook.set(503, false); return func() { b.hook.set(200, false) } },
		// The receiver never answers: only the delivery timeout ends it.
		"timeout": func(b *bundle) func() {
			b.hook.set(200, true)
			b.deliveryTimeout = 200 * time.Millisecond
			return func() { b.hook.set(200, false); b.deliveryTimeout = time.Minute }
		},
		"down": func(b *bundle) func() {
			up := b.pol.Inactivity.Notify.Webhook.URL
			b.pol.Inactivity.Notify.Webhook.URL = "http://" + closedAddr(t)
			return func() { b.pol.Inactivity.Notify.Webhook.URL = up }
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "webhook")
			u := b.user("u", 400)
			restore := fault(b)
			r, code := b.run()
			require.Equal(t, 1, code)
			require.EqualValues(t, 1, r.Counter("delivery_failures"))
			require.Zero(t, r.Counter("warned"))
			require.Equal(t, "pending", b.status(u))
			first := b.db.Int(t, `SELECT count(*) FROM lethe.notices WHERE last_error IS NOT NULL AND position($1 in last_error) = 0`, u)
			require.Equal(t, 1, first, "the error is recorded, without the subject's key")

			b.advance(40 * day)
			r, code = b.run()
			require.Equal(t, 1, code)
			require.Zero(t, r.Counter("deletion_requested"), "no deletion for a warning that was not delivered")
			require.False(t, b.requested(u))

			restore()
			r, code = b.run()
			require.Equal(t, 0, code)
			require.EqualValues(t, 1, r.Counter("warned"))
			require.Zero(t, r.Counter("deletion_requested"), "the warning period starts at delivery")
			reqs := b.hook.forKey(u)
			require.NotEmpty(t, reqs)
			for _, q := range reqs {
				require.Equal(t, reqs[0].key, q.key, "every attempt carries the same Idempotency-Key")
			}
			b.advance(31 * day)
			r, _ = b.run()
			require.EqualValues(t, 1, r.Counter("deletion_requested"))
		})
	}
}

// TestSMTPFailures: a mail server that refuses (4xx, 5xx) or is down marks
// nothing sent and exits 1; the next run delivers exactly one mail, with
// the notice's Message-ID. A webhook already delivered is not repeated.
func TestSMTPFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook", "smtp")
	u := b.user("u", 400)
	b.smtp.SetFail(451)
	r, code := b.run()
	require.Equal(t, 1, code)
	require.EqualValues(t, 1, r.Counter("delivery_failures"))
	require.Equal(t, "pending", b.status(u))
	require.Len(t, b.hook.forKey(u), 1, "the webhook went out")
	require.Empty(t, b.smtp.Messages())
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.notices WHERE position('u@example.com' in last_error) = 0 AND last_error LIKE '%451%'`),
		"the server's answer is kept, the address redacted")

	b.smtp.SetFail(554)
	_, code = b.run()
	require.Equal(t, 1, code)
	_, code = b.run(func(c *inactivity.Config) { c.SMTPURL = "smtp://lethe:s3cret@" + closedAddr(t) })
	require.Equal(t, 1, code)
	b.advance(40 * day)
	b.smtp.SetFail(0)
	r, code = b.run()
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, r.Counter("warned"))
	require.Zero(t, r.Counter("deletion_requested"))
	msgs := b.smtp.Messages()
	require.Len(t, msgs, 1)
	require.Len(t, b.hook.forKey(u), 1, "never a second webhook")
	require.Equal(t, "<"+inactivity.MessageID(b.hook.forKey(u)[0].key, "example.com")+">", msgs[0].MessageID)
}

// TestNoEmailWithMailOnly: with mail as the only channel, a subject without
// an address is counted as undeliverable, never warned, never requested.
func TestNoEmailWithMailOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, "smtp")
	nm := b.user("nomail", 400, "no-email")
	ok := b.user("ok", 400)
	r, code := b.run()
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, r.Counter("undeliverable"))
	require.EqualValues(t, 1, r.Counter("warned"))
	require.Zero(t, b.notices(nm))
	require.Equal(t, "sent", b.status(ok))
	b.advance(31 * day)
	r, _ = b.run()
	require.EqualValues(t, 1, r.Counter("deletion_requested"))
	require.False(t, b.requested(nm))
	require.True(t, b.requested(ok))
}

func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return fmt.Sprint(addr)
}
