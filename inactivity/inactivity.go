package inactivity

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// Job is the inactivity job.
type Job struct {
	cfg       Config
	in        *policy.Inactivity
	sql       queries
	templates *policy.MailTemplates
	channels  []channel

	// beforeCommit, set only by tests, runs just before a batch commits,
	// with the server process id of its connection and what it counted.
	beforeCommit func(pid uint32, batch *jobs.Tally)
}

var _ jobs.Job = (*Job)(nil)

// New returns the inactivity job.
func New(cfg Config) (*Job, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Job{cfg: cfg, in: cfg.Policy.Inactivity}, nil
}

// Name implements jobs.Job.
func (j *Job) Name() string { return "inactivity" }

// Run implements jobs.Job: it closes the notices of subjects who came back,
// requests the deletion of subjects still inactive warn after their warning,
// then records and delivers new warnings.
func (j *Job) Run(ctx context.Context, s *jobs.Session) (err error) {
	r := s.Report
	cols, err := j.check(ctx, s.DryRun())
	if err != nil {
		return err
	}
	j.sql = buildQueries(cols)
	st, err := j.stats(ctx)
	if err != nil {
		return err
	}
	r.Set(ToWarn, st.toWarn)
	r.Set(ToRequest, st.toRequest)
	r.Set(ToClose, st.toClose)
	r.Set(Undeliverable, st.undeliverable)
	r.Set(PendingDeliveries, st.pending)
	if err := j.guard(ctx, s.Limits, st); err != nil {
		return err
	}
	if s.DryRun() {
		return nil
	}
	if j.channels, err = j.buildChannels(); err != nil {
		return &jobs.ConfigError{Err: err}
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	for _, c := range []jobs.Counter{Warned, DeliveryFailures, DeletionRequested, ClosedActiveAgain} {
		r.Add(c, 0)
	}
	if err := j.forgetGone(ctx, r); err != nil {
		return err
	}
	if err := j.loop(ctx, s, j.closeBatch); err != nil {
		return err
	}
	if j.in.Then == policy.RequestDeletion {
		if err := j.loop(ctx, s, j.requestBatch); err != nil {
			return err
		}
	}
	if err := j.loop(ctx, s, j.recordBatch); err != nil {
		return err
	}
	return j.deliverAll(ctx, s)
}

type stats struct {
	toWarn, undeliverable, toRequest, toClose, pending int64
}

// stats counts what the run would do, in a read-only transaction of its
// own, dry or not: the counts change nothing.
func (j *Job) stats(ctx context.Context) (stats, error) {
	var st stats
	err := pgx.BeginTxFunc(ctx, j.cfg.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var ledgerReady bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass('lethe.notices') IS NOT NULL").Scan(&ledgerReady); err != nil {
			return err
		}
		q := j.sql.stats
		if !ledgerReady {
			q = j.sql.statsNoLedger
		}
		return tx.QueryRow(ctx, q, time.Duration(j.in.After), time.Duration(j.in.Warn)).
			Scan(&st.toWarn, &st.undeliverable, &st.toRequest, &st.toClose, &st.pending)
	})
	if j.in.Then != policy.RequestDeletion {
		st.toRequest = 0
	}
	if err != nil {
		return st, fmt.Errorf("count inactive subjects: %w", err)
	}
	return st, nil
}

// guard is the blast-radius check of the subjects a run would warn and
// those it would request the deletion of against all subjects, counted
// only as far as the guard needs (jobs.Limits.GuardTotalCap): a run that
// warns a few subjects does not read the whole table for its total.
func (j *Job) guard(ctx context.Context, l jobs.Limits, st stats) error {
	const hint = "check inactivity.last_active and after"
	var total int64
	if limit := max(l.GuardTotalCap(st.toWarn, guardFloor), l.GuardTotalCap(st.toRequest, guardFloor)); limit > 0 {
		if err := j.cfg.Pool.QueryRow(ctx, j.sql.total, limit).Scan(&total); err != nil {
			return fmt.Errorf("count subjects: %w", err)
		}
	}
	if err := l.Guard("subjects would be warned", st.toWarn, total, guardFloor, hint); err != nil {
		return err
	}
	return l.Guard("subjects would have their deletion requested", st.toRequest, total, guardFloor, hint)
}

// guardFloor is how many subjects the share guard starts at.
const guardFloor = 50

// batchFunc does one batch of at most size subjects in tx, counts into t,
// and returns how many it selected.
type batchFunc func(ctx context.Context, tx pgx.Tx, t *jobs.Tally, size int) (int, error)

// loop runs batch, each in a transaction of the session, until it selects
// fewer than a batch, the run must stop or it fails.
func (j *Job) loop(ctx context.Context, s *jobs.Session, batch batchFunc) error {
	for s.Continue(ctx) {
		n, size, err := s.SizedBatch(ctx, s.Sizer(), func(ctx context.Context, size int) (n int, err error) {
			err = s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, t *jobs.Tally) error {
				var err error
				if n, err = batch(ctx, tx, t, size); err == nil && j.beforeCommit != nil {
					j.beforeCommit(tx.Conn().PgConn().PID(), t)
				}
				return err
			})
			return n, err
		})
		if err != nil {
			return err
		}
		if n < size {
			return nil
		}
	}
	return nil
}

func (j *Job) forgetGone(ctx context.Context, r *jobs.Report) error {
	tag, err := j.cfg.Pool.Exec(ctx, j.sql.forgetGone)
	if err != nil {
		return fmt.Errorf("inactivity: forget notices of deleted subjects: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		r.Add(NoticesForgotten, n)
	}
	return nil
}

// closeBatch closes the open notices of subjects active again since.
func (j *Job) closeBatch(ctx context.Context, tx pgx.Tx, t *jobs.Tally, size int) (int, error) {
	tag, err := tx.Exec(ctx, j.sql.closeBatch, size)
	if err != nil {
		return 0, fmt.Errorf("inactivity: close notices: %w", err)
	}
	t.Add(ClosedActiveAgain, tag.RowsAffected())
	return int(tag.RowsAffected()), nil
}

// requestBatch sets requested_at of subjects warned at least warn ago and
// not active since, which starts the purge's grace period.
func (j *Job) requestBatch(ctx context.Context, tx pgx.Tx, t *jobs.Tally, size int) (int, error) {
	rows, err := tx.Query(ctx, j.sql.requestBatch, time.Duration(j.in.Warn), size)
	if err != nil {
		return 0, fmt.Errorf("inactivity: request deletion: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var k string
		var n int64
		return k, row.Scan(&k, &n)
	})
	if err != nil {
		return 0, fmt.Errorf("inactivity: request deletion: %w", err)
	}
	for _, k := range keys {
		j.cfg.Logger.Debug("deletion requested", slog.String("subject", j.cfg.Hasher.Hash(k)))
	}
	t.Add(DeletionRequested, int64(len(keys)))
	return len(keys), nil
}

// recordBatch records pending notices for subjects inactive longer than
// after, in the transaction that locks their rows.
func (j *Job) recordBatch(ctx context.Context, tx pgx.Tx, t *jobs.Tally, size int) (int, error) {
	var picked, inserted int
	err := tx.QueryRow(ctx, j.sql.recordBatch, time.Duration(j.in.After), size,
		j.in.Notify.Webhook != nil, j.in.Notify.SMTP != nil).Scan(&picked, &inserted)
	if err != nil {
		return 0, fmt.Errorf("inactivity: record notices: %w", err)
	}
	t.Add(NoticesRecorded, int64(inserted))
	j.cfg.Logger.Debug("notices recorded", slog.Int("subjects", picked), slog.Int("notices", inserted))
	return picked, nil
}

// Check implements jobs.Checker: the inactivity section against the
// catalog.
func (j *Job) Check(ctx context.Context) error {
	_, err := j.check(ctx, true)
	return err
}

var _ jobs.Checker = (*Job)(nil)
