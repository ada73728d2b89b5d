package jobs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/ledger"
)

// Retry policy shared by every job.
const (
	// RetryAttempts is how many times a batch is tried before its error
	// ends the run.
	RetryAttempts = 6
	// RetryBaseDelay is the pause before the first retry; each retry
	// doubles it, up to RetryMaxDelay, with jitter so that two waiters
	// part.
	RetryBaseDelay = 100 * time.Millisecond
	// RetryMaxDelay caps the pause between two attempts.
	RetryMaxDelay = 3 * time.Second
)

// timeoutsSQL sets a transaction's timeouts; every job's transactions
// start with it.
const timeoutsSQL = `SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true), set_config('TimeZone', 'UTC', true)`

// Session is one run of one job: its limits, its clock, its report, and the
// mechanics every job shares (stop and budget checks in one order, a
// transaction with the run's timeouts, one retry policy, advisory locks).
// A job's own code holds only its logic; it never re-implements these.
type Session struct {
	// Pool is the application's database.
	Pool *pgxpool.Pool
	// Limits are the run's limits. Limits.DryRun is the one source of
	// truth for a dry run.
	Limits Limits
	// Report is what the run did.
	Report *Report
	// Logger is scoped to the job.
	Logger *slog.Logger
	// KeyFingerprint identifies the subject hash key the run uses (see
	// subject.Hasher.Fingerprint); empty when it has none.
	KeyFingerprint string
	// RunID is the run's id in lethe.runs once Start has recorded it.
	RunID int64

	deadline time.Time
	run      *ledger.Run
	gov      *governor
	sizer    *Sizer
	pidMu    sync.Mutex
	pids     map[uint32]bool
}

// NewSession returns the session of a run that starts now, by the clock of
// limits (Limits.Now).
func NewSession(pool *pgxpool.Pool, limits Limits, report *Report, logger *slog.Logger) *Session {
	limits.SetDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Session{Pool: pool, Limits: limits, Report: report, Logger: logger, deadline: limits.Now().Add(limits.TimeBudget)}
	s.sizer = s.NewSizer(limits.BatchSize, limits.MaxBatchSize, 0)
	if report != nil {
		report.SetGauge(BatchSize, float64(limits.BatchSize))
	}
	if pool != nil && !limits.Governor.Off {
		s.gov = &governor{cfg: limits.Governor, replicas: map[string]*pgx.Conn{}}
		// A plain dry run is read-only and light, and writes no WAL of its
		// own: no probe.
		if limits.Governor.LatencyProbe && (!limits.DryRun || limits.ExecuteDryRun) {
			s.gov.lat = newLatency(limits.Governor)
		}
	}
	return s
}

// Sizer is the run's adaptive batch size, shared by its workers; a job
// that works through several tables may make one per table with NewSizer.
func (s *Session) Sizer() *Sizer { return s.sizer }

// NewSizer returns a sizer aimed at target (zero: the run's
// TargetBatchTime), starting at size and capped at max. Every sizer of the
// run reports its changes as the BatchSize gauge.
func (s *Session) NewSizer(size, max int, target time.Duration) *Sizer {
	if target <= 0 {
		target = s.Limits.TargetBatchTime
	}
	z := NewSizer(size, max, target)
	z.onChange = func(n int) { s.Report.SetGauge(BatchSize, float64(n)) }
	z.paced = s.PacedTarget
	return z
}

// Start records the run in lethe.runs (migrating lethe's schema first, and
// closing the runs that died without finishing) unless it is dry, and
// starts the time budget, which is for the work. A job calls it once it
// has checked its input, before its first change: a run refused for bad
// input changes nothing, not even lethe's own schema. The Runner records
// how the run ended.
func (s *Session) Start(ctx context.Context) error {
	s.deadline = s.Limits.Now().Add(s.Limits.TimeBudget)
	if s.DryRun() || s.run != nil || s.Pool == nil {
		return nil
	}
	run, err := ledger.BeginRun(ctx, s.Pool, s.Report.Job, s.KeyFingerprint)
	if err != nil {
		return err
	}
	s.run, s.RunID = run, run.ID
	return nil
}

// finish records how a started run ended, with its report; a failure to
// record becomes the run's error when the run itself succeeded.
func (s *Session) finish(ctx context.Context, err error) error {
	if g := s.gov; g != nil {
		g.close(context.WithoutCancel(ctx))
		if g.failed != nil && !errors.Is(err, g.failed) {
			err = errors.Join(err, g.failed)
		}
	}
	if s.run != nil {
		s.run.Finish(ctx, &err, s.Report)
	}
	return err
}

// DryRun reports whether the run must change nothing.
func (s *Session) DryRun() bool { return s.Limits.DryRun }

// Continue reports whether the run may start another batch. It checks, in
// this order: the context (cancelled: the batch in flight is aborted), a
// stop request (a first SIGTERM), then the time budget, and records in the
// report why the run stopped. Then the governor waits while the database
// is unhealthy (see Governor), and the three are checked again. A run that
// waited past the governor's bound stops here; its Runner then fails it
// with a *ThrottledError.
func (s *Session) Continue(ctx context.Context) bool {
	if !s.mayContinue(ctx) {
		return false
	}
	if err := s.govern(ctx); err != nil {
		var te *ThrottledError
		if errors.As(err, &te) {
			return false
		}
		// A stop or a cancellation ended the wait.
	}
	return s.mayContinue(ctx)
}

func (s *Session) mayContinue(ctx context.Context) bool {
	switch {
	case ctx.Err() != nil, s.Limits.Stop.Err() != nil:
		s.Report.Set(Stopped, 1)
		return false
	case !s.Limits.Now().Before(s.deadline):
		s.Report.Set(BudgetExhausted, 1)
		return false
	}
	return true
}

// Begin starts a transaction with the run's statement_timeout and
// lock_timeout (and TimeZone UTC), read-only in a dry run (unless
// Limits.ExecuteDryRun).
func (s *Session) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, br, err := s.BeginBatch(ctx, &pgx.Batch{})
	if err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("set timeouts: %w", err)
	}
	return tx, nil
}

// BeginBatch is Begin that sends the timeouts and the statements of b in
// one round trip; the results of b's statements follow in br, which the
// caller closes.
func (s *Session) BeginBatch(ctx context.Context, b *pgx.Batch) (tx pgx.Tx, br pgx.BatchResults, err error) {
	opts := pgx.TxOptions{}
	if s.DryRun() && !s.Limits.ExecuteDryRun {
		opts.AccessMode = pgx.ReadOnly
	}
	tx, err = s.Pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	s.trackPID(tx.Conn().PgConn().PID())
	first := &pgx.Batch{}
	first.Queue(timeoutsSQL, millis(s.Limits.StatementTimeout), millis(s.Limits.LockTimeout))
	first.QueuedQueries = append(first.QueuedQueries, b.QueuedQueries...)
	br = tx.SendBatch(ctx, first)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, nil, fmt.Errorf("set timeouts: %w", err)
	}
	return tx, br, nil
}

// InTx runs fn in one transaction begun with Begin, commits it (a dry run
// rolls back), and only then adds fn's tally to the report: rows and
// counters of a batch that rolled back are never reported. A retryable
// failure is retried by the session's retry policy with a fresh tally.
func (s *Session) InTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx, t *Tally) error) error {
	return s.Retry(ctx, func(ctx context.Context) error {
		started := s.Limits.Now()
		tx, err := s.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		t := NewTally()
		if err := fn(ctx, tx, t); err != nil {
			return err
		}
		if !s.DryRun() {
			if err := tx.Commit(ctx); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
		}
		s.Commit(t, s.Limits.Now().Sub(started))
		return nil
	})
}

// Commit adds the tally of one batch that committed (or, dry, that was
// counted) and took d to the report.
func (s *Session) Commit(t *Tally, d time.Duration) {
	t.Add(Batches, 1)
	s.Report.merge(t)
	s.Report.Max(LongestTransactionMS, d.Milliseconds())
	s.ObserveBatch(d)
}

// Retry runs fn until it succeeds, fails with an error that is not worth a
// retry (see Retryable), or has failed RetryAttempts times; it pauses
// between attempts with exponential backoff and jitter and counts each
// retry in the report.
func (s *Session) Retry(ctx context.Context, fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !Retryable(err) || attempt == RetryAttempts || ctx.Err() != nil {
			return err
		}
		s.Report.Add(BatchesRetried, 1)
		pause := Backoff(attempt)
		s.Logger.Debug("batch retried", slog.String("sqlstate", SQLState(err)), slog.Duration("pause", pause))
		if err := s.Limits.Sleep(ctx, pause); err != nil {
			return err
		}
	}
}

// Backoff is the pause after the n-th failed attempt (n from 1):
// RetryBaseDelay doubled each time up to RetryMaxDelay, of which a random
// half is jitter.
func Backoff(n int) time.Duration {
	d := min(RetryBaseDelay<<min(n-1, 10), RetryMaxDelay)
	return d/2 + rand.N(d/2+1)
}

// Retryable reports whether err comes from other sessions and is worth a
// retry after a pause: a deadlock, a lock wait that timed out, a
// serialization failure, an object in use (a concurrent DETACH).
func Retryable(err error) bool {
	switch SQLState(err) {
	case "40P01", "55P03", "40001", "55006":
		return true
	}
	return false
}

// SQLState returns the SQLSTATE of a server error in err's chain, or "".
func SQLState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// LockKey is the advisory lock key of name in job's space: the job's first
// four letters in the high half, a hash of name in the low half.
func LockKey(job, name string) int64 {
	var high int64
	for i := 0; i < 4; i++ {
		high <<= 8
		if i < len(job) {
			high |= int64(job[i])
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return high<<32 | int64(h.Sum32())
}

// TryLock takes the session advisory lock key on a connection of its own,
// without waiting; ok is false when another run holds it. A killed run's
// lock goes with its connection. release gives it back.
func (s *Session) TryLock(ctx context.Context, key int64) (release func(), ok bool, err error) {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("advisory lock: %w", err)
	}
	s.trackPID(conn.Conn().PgConn().PID())
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil || !ok {
		conn.Release()
		if err != nil {
			return nil, false, fmt.Errorf("advisory lock: %w", err)
		}
		return nil, false, nil
	}
	return func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key); err != nil {
			// Closing the session releases the lock.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		conn.Release()
	}, true, nil
}

func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
