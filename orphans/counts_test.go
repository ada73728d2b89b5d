package orphans_test

import (
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/orphans"
	"github.com/stretchr/testify/require"
)

// TestRolledBackBatchIsNotCounted kills an organizations batch's
// connection just before it commits: its rows stay, and the report counts
// none of them.
func TestRolledBackBatchIsNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.addUser("alice", "")
	gone := b.addOrg("gone", "1 year")
	b.addOrg("kept", "1 year", alice)
	j, err := orphans.New(b.spec().cfg)
	require.NoError(t, err)
	orphans.SetBeforeCommit(j, func(pid uint32) {
		// With a timeout, pg_terminate_backend waits until the process is gone.
		b.db.Exec(t, "SELECT pg_terminate_backend($1, 60000)", int32(pid))
	})
	r, err := jobtest.Run(t, roletest.Pool(t, b.db, b.pol), j, jobs.Limits{})
	require.Error(t, err)
	st := b.org(gone)
	require.Equal(t, []int{1, 2, 1}, []int{st.Orgs, st.Notes, st.Comments}, "the batch rolled back")
	for k, n := range r.Rows {
		if k != "invites delete" {
			require.Zero(t, n, "%s: a batch rolled back counts no rows", k)
		}
	}
	require.Zero(t, r.Counter("organizations_removed"))
}
