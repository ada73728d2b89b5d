package inactivity_test

import (
	"testing"

	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// TestActiveAgainIsNeverRequested: warn → the user comes back → the notice
// is closed, deletion is never requested, and a new warning comes only
// after a new full period of inactivity.
func TestActiveAgainIsNeverRequested(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	back := b.user("back", 400)
	_, code := b.run()
	require.Equal(t, 0, code)
	require.Len(t, b.hook.forKey(back), 1)

	b.advance(10 * day)
	b.db.Exec(t, `UPDATE users SET last_active_at = now() WHERE id = $1`, back)
	b.advance(25 * day) // 35 days after the warning: past warn
	r, code := b.run()
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, r.Counter("closed_active_again"))
	require.Zero(t, r.Counter("deletion_requested"))
	require.False(t, b.requested(back))
	require.Equal(t, "closed", b.status(back))

	b.advance(300 * day) // inactive 325 days: not yet
	r, _ = b.run()
	require.Zero(t, r.Counter("warned"))
	require.Len(t, b.hook.forKey(back), 1)
	b.advance(45 * day) // inactive 370 days: a new period, a new warning
	r, code = b.run()
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, r.Counter("warned"))
	reqs := b.hook.forKey(back)
	require.Len(t, reqs, 2)
	require.NotEqual(t, reqs[0].key, reqs[1].key, "a new period is a new notice")
	require.Equal(t, "closed,sent", b.status(back))
	require.False(t, b.requested(back))
}

// TestReturnBetweenRecordAndDelivery: a notice recorded for a subject who
// comes back before it is delivered is closed, not sent.
func TestReturnBetweenRecordAndDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	back := b.user("back", 400)
	b.hook.set(503, false)
	_, code := b.run()
	require.Equal(t, 1, code)
	b.db.Exec(t, `UPDATE users SET last_active_at = now() WHERE id = $1`, back)
	b.hook.set(200, false)
	r, code := b.run()
	require.Equal(t, 0, code)
	require.Zero(t, r.Counter("warned"))
	require.EqualValues(t, 1, r.Counter("closed_active_again"))
	require.Len(t, b.hook.forKey(back), 1, "only the failed attempt")
}

// TestNotifyOnlyNeverRequests: with then: notify-only the warning goes out
// once and nothing else happens.
func TestNotifyOnlyNeverRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	b.pol.Inactivity.Then = policy.NotifyOnly
	u := b.user("u", 400)
	r, code := b.run()
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, r.Counter("warned"))
	require.Nil(t, b.hook.forKey(u)[0].ev.DeletionRequestedAt)
	b.advance(100 * day)
	r, code = b.run()
	require.Equal(t, 0, code)
	require.Zero(t, r.Counter("deletion_requested"))
	require.Zero(t, r.Counter("warned"))
	require.False(t, b.requested(u))
	require.Len(t, b.hook.forKey(u), 1)
}
