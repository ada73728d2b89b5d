package inactivity_test

import (
	"testing"

	"github.com/lethe-project/lethe/inactivity"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestRolledBackBatchIsNotCounted kills a batch's connection just before
// it commits the notices it recorded: none is recorded, and the report
// counts none.
func TestRolledBackBatchIsNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	a := b.user("a", 400)
	b.user("c", 10)
	j, err := inactivity.New(b.config())
	require.NoError(t, err)
	inactivity.SetBeforeCommit(j, func(pid uint32, batch *jobs.Tally) {
		if batch.Counter(inactivity.NoticesRecorded) > 0 {
			// With a timeout, pg_terminate_backend waits until the process is gone.
			b.db.Exec(t, "SELECT pg_terminate_backend($1, 60000)", int32(pid))
		}
	})
	r, err := jobtest.Run(t, roletest.Pool(t, b.db, b.pol), j, jobs.Limits{})
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err))
	require.Zero(t, b.notices(a), "the batch rolled back")
	require.Zero(t, r.Counter("notices_recorded"), "so it counts nothing")
	require.Empty(t, b.hook.requests())
}
