package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// blockOnLetheLock makes a session of its own wait on a row lock that a
// transaction of s holds, and returns that transaction and a channel that
// receives the waiter's result once it got the lock.
func blockOnLetheLock(t *testing.T, db *pgtest.DB, s *jobs.Session) (pgx.Tx, <-chan error) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "UPDATE items SET note = 'lethe' WHERE id = 1")
	require.NoError(t, err)
	app, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { app.Close(context.Background()) })
	var appPID uint32 = app.PgConn().PID()
	done := make(chan error, 1)
	go func() {
		_, err := app.Exec(ctx, "UPDATE items SET note = 'app' WHERE id = 1")
		done <- err
	}()
	// Until the server says the application's session waits on a lock.
	for waiting := false; !waiting; {
		require.NoError(t, db.Pool.QueryRow(ctx, "SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1", appPID).Scan(&waiting))
	}
	return tx, done
}

func TestGovernorWaitsWhileTheApplicationWaitsOnLetheLocks(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	s, clock := newSession(t, db, jobs.Limits{})
	tx, done := blockOnLetheLock(t, db, s)
	var seen []jobs.Health
	jobs.SetHealthProbe(s, func(h jobs.Health) { seen = append(seen, h) })
	clock.onSleep = func() {
		if len(clock.slept) == 2 {
			// After two polls lethe's transaction ends; the waiter goes on.
			require.NoError(t, tx.Commit(ctx))
			require.NoError(t, <-done)
		}
	}

	require.True(t, s.Continue(ctx))
	require.Equal(t, []time.Duration{time.Second, time.Second}, clock.slept)
	require.Len(t, seen, 3)
	require.Equal(t, 1, seen[0].LockWaiters)
	require.Zero(t, seen[2].LockWaiters)
	require.EqualValues(t, 2000, s.Report.Counter(jobs.ThrottledCounter(jobs.ReasonLockWaits)))
	require.EqualValues(t, 2000, s.Report.Counter(jobs.ThrottledMS))
	require.Zero(t, s.Report.Counter(jobs.ThrottledOut))
}

// throttledJob holds a lock the application waits on, then asks to go on.
type throttledJob struct {
	t       *testing.T
	db      *pgtest.DB
	cont    bool
	release func()
}

func (j *throttledJob) Name() string { return "throttled" }

func (j *throttledJob) Run(ctx context.Context, s *jobs.Session) error {
	tx, done := blockOnLetheLock(j.t, j.db, s)
	j.release = func() { _ = tx.Rollback(ctx); <-done }
	j.cont = s.Continue(ctx)
	return nil
}

func TestGovernorStopsTheRunPastItsBoundAndFailsIt(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	job := &throttledJob{t: t, db: db}
	rn := &jobs.Runner{Pool: db.Pool}
	r, err := rn.Execute(context.Background(), job, jobs.Limits{Clock: clock,
		Governor: jobs.Governor{MaxThrottle: 5 * time.Second, Poll: 2 * time.Second}})
	job.release()

	require.False(t, job.cont, "the run must not start another batch")
	var te *jobs.ThrottledError
	require.True(t, errors.As(err, &te), "got %v", err)
	require.Equal(t, jobs.ReasonLockWaits, te.Reason)
	require.Equal(t, 5*time.Second, te.Waited)
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err))
	require.Equal(t, []time.Duration{2 * time.Second, 2 * time.Second, time.Second}, clock.slept, "the last pause ends at the bound")
	require.EqualValues(t, 1, r.Counter(jobs.ThrottledOut))
	require.EqualValues(t, 5000, r.Counter(jobs.ThrottledCounter(jobs.ReasonLockWaits)))
}

func TestGovernorWaitsAtTheConnectionCeiling(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	// Three sessions of the application, each in a transaction (not idle).
	var txs []pgx.Tx
	for range 3 {
		c, err := pgx.Connect(ctx, db.URL)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close(context.Background()) })
		tx, err := c.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "SELECT 1")
		require.NoError(t, err)
		txs = append(txs, tx)
	}
	s, clock := newSession(t, db, jobs.Limits{Governor: jobs.Governor{MaxActive: 3}})
	var seen []jobs.Health
	jobs.SetHealthProbe(s, func(h jobs.Health) { seen = append(seen, h) })
	clock.onSleep = func() {
		for _, tx := range txs {
			require.NoError(t, tx.Rollback(ctx))
		}
	}
	require.True(t, s.Continue(ctx))
	require.GreaterOrEqual(t, seen[0].Active, 3)
	require.Less(t, seen[1].Active, 3)
	require.EqualValues(t, 1000, s.Report.Counter(jobs.ThrottledCounter(jobs.ReasonConnections)))

	// Without the ceiling, the default is 80% of max_connections: no wait.
	s2, clock2 := newSession(t, db, jobs.Limits{})
	require.True(t, s2.Continue(ctx))
	require.Empty(t, clock2.slept)
}

func TestGovernorPausesAfterASlowBatch(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	s, clock := newSession(t, db, jobs.Limits{TargetBatchTime: 100 * time.Millisecond})
	s.ObserveBatch(300 * time.Millisecond)
	require.True(t, s.Continue(context.Background()))
	require.Empty(t, clock.slept, "within four targets")
	s.ObserveBatch(3 * time.Second)
	require.True(t, s.Continue(context.Background()))
	require.Equal(t, []time.Duration{3 * time.Second}, clock.slept, "as long as the slow batch took, once")
	require.EqualValues(t, 3000, s.Report.Counter(jobs.ThrottledCounter(jobs.ReasonSlowBatches)))
}

func TestGovernorOffAndStopEndTheWait(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	off, clock := newSession(t, db, jobs.Limits{Governor: jobs.Governor{Off: true}})
	off.ObserveBatch(time.Hour)
	require.True(t, off.Continue(ctx))
	require.Empty(t, clock.slept)

	stop, stopNow := context.WithCancel(context.Background())
	s, clock := newSession(t, db, jobs.Limits{Stop: stop})
	s.ObserveBatch(time.Hour)
	clock.onSleep = stopNow
	require.False(t, s.Continue(ctx))
	require.EqualValues(t, 1, s.Report.Counter(jobs.Stopped))
}
