package outside_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
)

// A file:// location whose root does not exist (a volume not mounted in
// the pod) is an error for the subject: its rows stay and no receipt says
// "removed 0, verification passed". Once the root is back, the next run
// erases it.
func TestMissingFileRootKeepsTheSubject(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.addUser("gone", "45 days")
	require.NoError(t, os.RemoveAll(b.dir))

	code, err := b.run()
	require.Equal(t, jobs.ExitFailed, code)
	require.ErrorContains(t, err, "does not exist")
	require.NotContains(t, err.Error(), u.id)
	require.Equal(t, 1, b.state("gone").Users, "the subject's rows stay")
	rs, err := ledger.ReceiptsFor(context.Background(), b.db.Pool, u.hash)
	require.NoError(t, err)
	require.Empty(t, rs, "no receipt over a location that was never looked at")

	require.NoError(t, os.Mkdir(b.dir, 0o755))
	code, _ = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, state{}, b.state("gone"))
	require.Equal(t, "passed", b.receipt(u).Verification)
}
