package purge_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// flakyEraser fails every subject of its first call and erases (nothing)
// afterwards, as a processor that recovers within the run would.
type flakyEraser struct{ calls atomic.Int32 }

func (e *flakyEraser) Name() string      { return "flaky" }
func (e *flakyEraser) Columns() []string { return nil }
func (e *flakyEraser) Erase(_ context.Context, b *purge.Batch) []purge.Outcome {
	out := make([]purge.Outcome, len(b.Subjects))
	if e.calls.Add(1) == 1 {
		for i := range out {
			out[i].Err = errors.New("processor unavailable")
		}
	}
	return out
}
func (e *flakyEraser) Verify(_ context.Context, subs []purge.Subject) []error {
	return make([]error, len(subs))
}

// TestFailedSubjectIsNotTakenAgainInTheRun orders two workers so that the
// second reads the run's failed subjects before the first fails one, and
// selects after the first released it: the subject must stay for the next
// run, as the run reports, not be erased by the second worker.
func TestFailedSubjectIsNotTakenAgainInTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	gone := b.addUser("gone", "45 days", false, "")
	b.addUser("active", "", false, "")
	eraser := &flakyEraser{}
	cfg := b.config(func(c *options) { c.Workers = 2; c.Erasers = []purge.Eraser{eraser} })
	j, err := purge.New(cfg.Config)
	require.NoError(t, err)
	var selects atomic.Int32
	secondRead, firstEnded := make(chan struct{}), make(chan struct{})
	var once sync.Once
	purge.SetHooks(j, func() {
		switch selects.Add(1) {
		case 1:
			<-secondRead // the first worker selects once the second read the failed list
		case 2:
			close(secondRead)
			<-firstEnded // and the second selects once the first's batch ended
		}
	}, nil, func() { once.Do(func() { close(firstEnded) }) })

	r, code := runJob(t, cfg, j)
	require.Equal(t, jobs.ExitFailed, code, "the run says the subject was kept")
	require.Equal(t, 1, b.footprint(gone)["users"], "and the subject was kept")
	require.Zero(t, r.Counter("subjects_done"))
	require.Empty(t, r.RowCounts())
	require.EqualValues(t, 1, eraser.calls.Load(), "no worker tried the subject again in the run")
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM lethe.receipts"))

	r, code = b.run(func(c *options) { c.Erasers = []purge.Eraser{eraser} })
	require.Equal(t, jobs.ExitOK, code, "the next run erases it")
	require.Equal(t, int64(1), r.Counter("subjects_done"))
	require.Empty(t, nonzero(b.footprint(gone)))
}

// TestRolledBackBatchIsNotCounted kills the batch's connection just before
// it commits: the batch rolls back, and the report counts none of its rows.
func TestRolledBackBatchIsNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	gone := b.addUser("gone", "45 days", false, "")
	b.addUser("active", "", false, "")
	before := b.footprint(gone)
	cfg := b.config()
	j, err := purge.New(cfg.Config)
	require.NoError(t, err)
	purge.SetHooks(j, nil, func(pid uint32) {
		// With a timeout, pg_terminate_backend waits until the process is gone.
		b.db.Exec(t, "SELECT pg_terminate_backend($1, 60000)", int32(pid))
	}, nil)

	r, code := runJob(t, cfg, j)
	require.Equal(t, jobs.ExitFailed, code)
	require.Equal(t, before, b.footprint(gone), "the batch rolled back")
	require.Empty(t, r.RowCounts(), "so the report counts none of its rows")
	require.Zero(t, r.Counter("subjects_done"))
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM lethe.receipts"))

	r, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(1), r.Counter("subjects_done"))
	var users int64
	for _, rc := range r.RowCounts() {
		if rc.Table == "users" {
			users += rc.Rows
		}
	}
	require.Equal(t, int64(1), users, "a committed batch counts its rows once")
}

// TestKilledRunIsClosedAndItsBatchVerified puts the ledger in the state a
// SIGKILL between a batch's commit and its verification leaves: the run
// still running with its lock gone, the batch pending, its subjects owed a
// verification. The next run closes the run and verifies the batch, and
// finds the row an application wrote back meanwhile.
func TestKilledRunIsClosedAndItsBatchVerified(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	gone := b.addUser("gone", "45 days", false, "")
	back := b.addUser("back", "45 days", false, "")
	b.addUser("active", "", false, "")
	b.addUser("active2", "", false, "")
	_, code := b.run()
	require.Equal(t, jobs.ExitOK, code)

	h := subject.NewHasher(hashKey)
	b.db.Exec(t, `UPDATE lethe.runs SET status = 'running', finished_at = NULL, report = NULL;
		UPDATE lethe.batches SET verification = 'pending', verified_at = NULL;
		UPDATE lethe.receipts SET verification = 'pending', verified_at = NULL`)
	b.db.Exec(t, `INSERT INTO lethe.unverified (batch_id, subject_hash, subject_key)
		SELECT batch_id, subject_hash, CASE subject_hash WHEN $1 THEN $2 ELSE $3 END FROM lethe.receipts`,
		h.Hash(gone), gone, back)
	b.db.Exec(t, `INSERT INTO activity_log (user_id, action) VALUES ($1, 'written back')`, back)

	r, code := b.run()
	require.Equal(t, jobs.ExitFailed, code, "the late verification found a leftover")
	require.Equal(t, int64(2), r.Counter("receipts_verified_late"))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'running'`), "no run is left running")
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'abandoned' AND finished_at IS NOT NULL`))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.unverified`), "the keys are forgotten once verified")
	ctx := context.Background()
	rs, err := ledger.ReceiptsFor(ctx, b.db.Pool, h.Hash(gone))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, "passed", rs[0].Verification)
	rs, err = ledger.ReceiptsFor(ctx, b.db.Pool, h.Hash(back))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.True(t, strings.HasPrefix(rs[0].Verification, "failed: activity_log still has 1 row"), rs[0].Verification)

	b.db.Exec(t, `DELETE FROM activity_log WHERE user_id = $1`, back)
	_, code = b.run()
	require.Equal(t, jobs.ExitOK, code, "nothing is owed any more")
}

// TestUnverifiableBatchIsClosed: a pending batch of a dead run with no
// subjects kept for verification (made before lethe kept them) is closed
// as not verified, not left pending.
func TestUnverifiableBatchIsClosed(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	gone := b.addUser("gone", "45 days", false, "")
	b.addUser("active", "", false, "")
	_, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	b.db.Exec(t, `UPDATE lethe.runs SET status = 'running', finished_at = NULL;
		UPDATE lethe.batches SET verification = 'pending', verified_at = NULL;
		UPDATE lethe.receipts SET verification = 'pending', verified_at = NULL`)
	_, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'running'`), "the dead run is closed")
	rs, err := ledger.ReceiptsFor(context.Background(), b.db.Pool, subject.NewHasher(hashKey).Hash(gone))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, "not verified: its run ended before verification", rs[0].Verification)
}

// TestSmallDatabaseGuard: on a database of 3 users, a requested_at that
// makes all 3 eligible is refused (exit 3) and nothing changes; 2 of 3 go.
func TestSmallDatabaseGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	for _, n := range []string{"u1", "u2", "u3"} {
		b.addUser(n, "45 days", false, "")
	}
	before := b.appSnapshot()
	_, code := b.run()
	require.Equal(t, jobs.ExitGuard, code, "all 3 users eligible: refused")
	require.Equal(t, before, b.appSnapshot(), "nothing changed")

	b.db.Exec(t, `UPDATE users SET deleted_at = NULL WHERE id = $1`, uuidOf("u3"))
	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code, "2 of 3 may go")
	require.Equal(t, int64(2), r.Counter("subjects_done"))
}
