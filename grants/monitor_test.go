package grants_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// The generated role sees other roles' sessions (what they wait on, and
// so whom lethe's locks hold up) and the replicas' lag: the governor reads
// both from pg_stat_activity and pg_stat_replication, where PostgreSQL
// hides them from a role without pg_read_all_stats.
func TestGeneratedRoleSeesOtherSessionsForTheGovernor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// A session of another role (the administrator's), idle in a
	// transaction that holds a lock.
	other, err := b.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer other.Release()
	tx, err := other.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var pid int
	require.NoError(t, tx.QueryRow(ctx, `SELECT pg_backend_pid() FROM users LIMIT 1`).Scan(&pid))

	script := b.applyGrants()
	conn := b.rolePool()
	var state *string
	require.NoError(t, conn.QueryRow(ctx, `SELECT state FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&state))
	require.NotNil(t, state, "the role cannot see what another role's session is doing")
	require.Equal(t, "idle in transaction", *state)
	var member bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')`).Scan(&member))
	require.True(t, member)
	require.Contains(t, script, "GRANT pg_read_all_stats TO")
}
