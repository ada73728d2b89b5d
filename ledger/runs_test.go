package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

func status(t *testing.T, db *pgtest.DB, id int64) string {
	t.Helper()
	var s string
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT status FROM lethe.runs WHERE id = $1", id).Scan(&s))
	return s
}

// TestDeadRunIsClosedLiveRunIsNot: a run whose connection died (as with a
// SIGKILL or a database crash) is closed as abandoned by the next run; a
// run still alive is left running, and finishes normally.
func TestDeadRunIsClosedLiveRunIsNot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, "")
	alive, err := BeginRun(ctx, db.Pool, "purge", "")
	require.NoError(t, err)
	dead, err := BeginRun(ctx, db.Pool, "retention", "")
	require.NoError(t, err)
	db.Exec(t, "SELECT pg_terminate_backend($1, 60000)", int32(dead.conn.PgConn().PID()))
	// A row left running by a binary that held no lock, or a lost server.
	var old int64
	require.NoError(t, db.Pool.QueryRow(ctx, "INSERT INTO lethe.runs (job, dry_run) VALUES ('orphans', false) RETURNING id").Scan(&old))

	next, err := BeginRun(ctx, db.Pool, "inactivity", "")
	require.NoError(t, err)
	require.Equal(t, "abandoned", status(t, db, dead.ID))
	require.Equal(t, "abandoned", status(t, db, old))
	require.Equal(t, "running", status(t, db, alive.ID), "a live run holds its lock")
	require.Equal(t, "running", status(t, db, next.ID))

	var runErr error
	alive.Finish(ctx, &runErr, map[string]int{})
	require.NoError(t, runErr)
	require.Equal(t, "succeeded", status(t, db, alive.ID))
	runErr = errors.New("boom")
	next.Finish(ctx, &runErr, nil)
	require.Equal(t, "failed", status(t, db, next.ID))
	n, err := CloseStaleRuns(ctx, db.Pool)
	require.NoError(t, err)
	require.Zero(t, n, "finished runs are not touched")
}

// TestOtherKeyReceipts: receipts of runs made with another key are told
// apart from none; runs without a fingerprint are not counted.
func TestOtherKeyReceipts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, "")
	n, err := OtherKeyReceipts(ctx, db.Pool, []string{"aaaa"})
	require.NoError(t, err)
	require.Zero(t, n, "no lethe schema yet")
	for _, fp := range []string{"aaaa", "bbbb", ""} {
		run, err := BeginRun(ctx, db.Pool, "erase", fp)
		require.NoError(t, err)
		db.Exec(t, `INSERT INTO lethe.receipts (subject_hash, run_id, policy_digest, rows) VALUES ('h', $1, 'd', '[]')`, run.ID)
		var runErr error
		run.Finish(ctx, &runErr, nil)
	}
	n, err = OtherKeyReceipts(ctx, db.Pool, []string{"aaaa"})
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	n, err = OtherKeyReceipts(ctx, db.Pool, []string{"cccc"})
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
}
