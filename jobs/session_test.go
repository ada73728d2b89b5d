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

const sessionSchema = `CREATE TABLE items (id int PRIMARY KEY, note text);
INSERT INTO items SELECT g, 'n' FROM generate_series(1, 10) g;`

// fakeClock moves only when told to; Sleep advances it and calls onSleep,
// so a test decides what happens during a retry's pause.
type fakeClock struct {
	now     time.Time
	slept   []time.Duration
	onSleep func()
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	if c.onSleep != nil {
		c.onSleep()
	}
	return ctx.Err()
}

func newSession(t *testing.T, db *pgtest.DB, l jobs.Limits) (*jobs.Session, *fakeClock) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if l.Clock == nil {
		l.Clock = clock
	}
	var pool = db.Pool
	return jobs.NewSession(pool, l, jobs.NewReport("test", l.DryRun), nil), clock
}

func TestContinueChecksContextThenStopThenBudget(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	stop, stopNow := context.WithCancel(context.Background())
	defer stopNow()
	s, clock := newSession(t, db, jobs.Limits{TimeBudget: time.Minute, Stop: stop})

	require.True(t, s.Continue(context.Background()))
	clock.now = clock.now.Add(59 * time.Second)
	require.True(t, s.Continue(context.Background()), "inside the budget")
	clock.now = clock.now.Add(time.Second)
	require.False(t, s.Continue(context.Background()), "the budget is spent")
	require.EqualValues(t, 1, s.Report.Counter(jobs.BudgetExhausted))
	require.Zero(t, s.Report.Counter(jobs.Stopped))

	s2, _ := newSession(t, db, jobs.Limits{TimeBudget: time.Minute, Stop: stop})
	stopNow()
	require.False(t, s2.Continue(context.Background()), "a stop request")
	require.EqualValues(t, 1, s2.Report.Counter(jobs.Stopped))
	require.Zero(t, s2.Report.Counter(jobs.BudgetExhausted))
}

func TestBeginSetsTimeoutsAndDryRunIsReadOnly(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	s, _ := newSession(t, db, jobs.Limits{StatementTimeout: 1234 * time.Millisecond, LockTimeout: 567 * time.Millisecond})
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	var st, lt, tz string
	require.NoError(t, tx.QueryRow(ctx, "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), current_setting('TimeZone')").Scan(&st, &lt, &tz))
	require.Equal(t, []string{"1234ms", "567ms", "UTC"}, []string{st, lt, tz})
	require.NoError(t, tx.Rollback(ctx))

	dry, _ := newSession(t, db, jobs.Limits{DryRun: true})
	err = dry.InTx(ctx, func(ctx context.Context, tx pgx.Tx, _ *jobs.Tally) error {
		_, err := tx.Exec(ctx, "DELETE FROM items")
		return err
	})
	require.Equal(t, "25006", jobs.SQLState(err), "a dry run's transaction is read-only")
	require.Equal(t, 10, db.Int(t, "SELECT count(*) FROM items"))
}

// TestInTxCountsOnlyCommittedWork: a batch that fails after doing its work
// rolls back, and nothing of it reaches the report.
func TestInTxCountsOnlyCommittedWork(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	s, _ := newSession(t, db, jobs.Limits{})
	del := func(fail bool) func(context.Context, pgx.Tx, *jobs.Tally) error {
		return func(ctx context.Context, tx pgx.Tx, tl *jobs.Tally) error {
			tag, err := tx.Exec(ctx, "DELETE FROM items WHERE id <= 3")
			if err != nil {
				return err
			}
			tl.AddRows("items", "delete", tag.RowsAffected())
			tl.Add(jobs.SubjectsDone, 3)
			if fail {
				return errors.New("the batch failed after its statements")
			}
			return nil
		}
	}
	require.Error(t, s.InTx(ctx, del(true)))
	require.Empty(t, s.Report.RowCounts(), "rolled-back rows are not reported")
	require.Zero(t, s.Report.Counter(jobs.SubjectsDone))
	require.Zero(t, s.Report.Counter(jobs.Batches))
	require.Equal(t, 10, db.Int(t, "SELECT count(*) FROM items"))

	require.NoError(t, s.InTx(ctx, del(false)))
	require.Equal(t, []jobs.RowCount{{Table: "items", Action: "delete", Rows: 3}}, s.Report.RowCounts())
	require.EqualValues(t, 3, s.Report.Counter(jobs.SubjectsDone))
	require.EqualValues(t, 1, s.Report.Counter(jobs.Batches))
	require.Equal(t, 7, db.Int(t, "SELECT count(*) FROM items"))
}

// TestRetryAfterARealLockTimeout: another session holds the rows; the
// first attempt times out waiting (55P03), rolls back, and the retry,
// started after the other session let go during the pause, commits once.
func TestRetryAfterARealLockTimeout(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	s, clock := newSession(t, db, jobs.Limits{LockTimeout: 50 * time.Millisecond})
	holder, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = holder.Exec(ctx, "SELECT * FROM items WHERE id = 1 FOR UPDATE")
	require.NoError(t, err)
	clock.onSleep = func() { require.NoError(t, holder.Rollback(ctx)) }

	attempts := 0
	err = s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, tl *jobs.Tally) error {
		attempts++
		tag, err := tx.Exec(ctx, "DELETE FROM items WHERE id = 1")
		tl.AddRows("items", "delete", tag.RowsAffected())
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 2, attempts)
	require.Len(t, clock.slept, 1)
	require.EqualValues(t, 1, s.Report.Counter(jobs.BatchesRetried))
	require.Equal(t, []jobs.RowCount{{Table: "items", Action: "delete", Rows: 1}}, s.Report.RowCounts(), "counted once")
}

func TestRetryGivesUpAndDoesNotRetryOtherErrors(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	s, clock := newSession(t, db, jobs.Limits{})
	attempts := 0
	err := s.Retry(ctx, func(ctx context.Context) error {
		attempts++
		_, err := db.Pool.Exec(ctx, "SELECT 1/0")
		return err
	})
	require.Equal(t, "22012", jobs.SQLState(err))
	require.Equal(t, 1, attempts, "a data error is not retried")
	require.Empty(t, clock.slept)

	attempts = 0
	lockTimeout := func(ctx context.Context) error {
		attempts++
		conn, err := db.Pool.Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		_, err = conn.Exec(ctx, "SELECT pg_advisory_lock(42)")
		require.NoError(t, err)
		defer conn.Exec(ctx, "SELECT pg_advisory_unlock(42)") //nolint:errcheck
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck
		_, err = tx.Exec(ctx, "SET LOCAL lock_timeout = '10ms'; SELECT pg_advisory_xact_lock(42)")
		return err
	}
	err = s.Retry(ctx, lockTimeout)
	require.Equal(t, "55P03", jobs.SQLState(err))
	require.Equal(t, jobs.RetryAttempts, attempts)
	require.Len(t, clock.slept, jobs.RetryAttempts-1)
	for i, d := range clock.slept {
		full := min(jobs.RetryBaseDelay<<i, jobs.RetryMaxDelay)
		require.GreaterOrEqual(t, d, full/2)
		require.LessOrEqual(t, d, full)
	}
}

func TestTryLockIsExclusiveUntilReleased(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	s, _ := newSession(t, db, jobs.Limits{})
	key := jobs.LockKey("retention", "public.items")
	require.NotEqual(t, key, jobs.LockKey("retention", "public.other"))
	require.NotEqual(t, key, jobs.LockKey("orphans", "public.items"))

	release, ok, err := s.TryLock(ctx, key)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = s.TryLock(ctx, key)
	require.NoError(t, err)
	require.False(t, ok, "a second run skips what the first holds")
	release()
	release2, ok, err := s.TryLock(ctx, key)
	require.NoError(t, err)
	require.True(t, ok)
	release2()
}
