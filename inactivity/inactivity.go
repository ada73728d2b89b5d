package inactivity

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/policy"
)

// Job is the inactivity job.
type Job struct {
	cfg       Config
	in        *policy.Inactivity
	sql       queries
	templates *policy.MailTemplates
	channels  []channel
	runID     int64
	deadline  time.Time

	// beforeCommit, set only by tests, runs just before a batch commits,
	// with the server process id of its connection and what it counted.
	beforeCommit func(pid uint32, batch *jobs.Report)
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
func (j *Job) Run(ctx context.Context, r *jobs.Report) (err error) {
	cfg := &j.cfg
	j.deadline = time.Now().Add(cfg.TimeBudget)
	cols, err := j.check(ctx)
	if err != nil {
		return err
	}
	j.sql = buildQueries(cols)
	st, err := j.stats(ctx)
	if err != nil {
		return err
	}
	r.Set("to_warn", st.toWarn)
	r.Set("to_request", st.toRequest)
	r.Set("to_close", st.toClose)
	r.Set("undeliverable", st.undeliverable)
	r.Set("pending_deliveries", st.pending)
	if !cfg.AllowLarge {
		if err := j.guard(st); err != nil {
			return err
		}
	}
	if cfg.DryRun {
		return nil
	}
	if j.channels, err = j.buildChannels(); err != nil {
		return &jobs.ConfigError{Err: err}
	}
	run, err := ledger.BeginRun(ctx, cfg.Pool, j.Name(), cfg.Hasher.Fingerprint())
	if err != nil {
		return err
	}
	j.runID = run.ID
	defer run.Finish(ctx, &err, r)
	for _, c := range []string{"warned", "delivery_failures", "deletion_requested", "closed_active_again"} {
		r.Add(c, 0)
	}
	if err := j.forgetGone(ctx, r); err != nil {
		return err
	}
	if err := j.loop(ctx, r, j.closeBatch); err != nil {
		return err
	}
	if j.in.Then == policy.RequestDeletion {
		if err := j.loop(ctx, r, j.requestBatch); err != nil {
			return err
		}
	}
	if err := j.loop(ctx, r, j.recordBatch); err != nil {
		return err
	}
	return j.deliverAll(ctx, r)
}

type stats struct {
	toWarn, undeliverable, toRequest, toClose, pending, total int64
}

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
			Scan(&st.toWarn, &st.undeliverable, &st.toRequest, &st.toClose, &st.pending, &st.total)
	})
	if j.in.Then != policy.RequestDeletion {
		st.toRequest = 0
	}
	if err != nil {
		return st, fmt.Errorf("count inactive subjects: %w", err)
	}
	return st, nil
}

func (j *Job) guard(st stats) error {
	const hint = "check inactivity.last_active and after"
	if err := j.cfg.Guard("subjects would be warned", st.toWarn, st.total, 50, hint); err != nil {
		return err
	}
	return j.cfg.Guard("subjects would have their deletion requested", st.toRequest, st.total, 50, hint)
}

// stopped reports whether the run must not start new work.
func (j *Job) stopped(ctx context.Context, r *jobs.Report) bool {
	if time.Now().After(j.deadline) {
		r.Set("budget_exhausted", 1)
		return true
	}
	if j.cfg.Stop.Err() != nil || ctx.Err() != nil {
		r.Set("stopped", 1)
		return true
	}
	return false
}

// loop runs batch until it selects fewer than a batch, the budget is spent
// or it fails.
func (j *Job) loop(ctx context.Context, r *jobs.Report, batch func(context.Context, pgx.Tx, *jobs.Report) (int, error)) error {
	for !j.stopped(ctx, r) {
		var n int
		// The batch counts into a report of its own, merged once it
		// committed: a batch rolled back counts nothing.
		br := jobs.NewReport(j.Name(), false)
		err := pgx.BeginFunc(ctx, j.cfg.Pool, func(tx pgx.Tx) error {
			if err := j.setTimeouts(ctx, tx); err != nil {
				return err
			}
			var err error
			if n, err = batch(ctx, tx, br); err == nil && j.beforeCommit != nil {
				j.beforeCommit(tx.Conn().PgConn().PID(), br)
			}
			return err
		})
		if err != nil {
			return err
		}
		r.Merge(br)
		if n < j.cfg.BatchSize {
			return nil
		}
	}
	return nil
}

func (j *Job) setTimeouts(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)",
		strconv.FormatInt(j.cfg.StatementTimeout.Milliseconds(), 10), strconv.FormatInt(j.cfg.LockTimeout.Milliseconds(), 10))
	if err != nil {
		return fmt.Errorf("inactivity: set timeouts: %w", err)
	}
	return nil
}

func (j *Job) forgetGone(ctx context.Context, r *jobs.Report) error {
	tag, err := j.cfg.Pool.Exec(ctx, j.sql.forgetGone)
	if err != nil {
		return fmt.Errorf("inactivity: forget notices of deleted subjects: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		r.Add("notices_forgotten", n)
	}
	return nil
}

// closeBatch closes the open notices of subjects active again since.
func (j *Job) closeBatch(ctx context.Context, tx pgx.Tx, r *jobs.Report) (int, error) {
	tag, err := tx.Exec(ctx, j.sql.closeBatch, j.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("inactivity: close notices: %w", err)
	}
	r.Add("closed_active_again", tag.RowsAffected())
	return int(tag.RowsAffected()), nil
}

// requestBatch sets requested_at of subjects warned at least warn ago and
// not active since, which starts the purge's grace period.
func (j *Job) requestBatch(ctx context.Context, tx pgx.Tx, r *jobs.Report) (int, error) {
	rows, err := tx.Query(ctx, j.sql.requestBatch, time.Duration(j.in.Warn), j.cfg.BatchSize)
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
	r.Add("deletion_requested", int64(len(keys)))
	return len(keys), nil
}

// recordBatch records pending notices for subjects inactive longer than
// after, in the transaction that locks their rows.
func (j *Job) recordBatch(ctx context.Context, tx pgx.Tx, r *jobs.Report) (int, error) {
	var picked, inserted int
	err := tx.QueryRow(ctx, j.sql.recordBatch, time.Duration(j.in.After), j.cfg.BatchSize,
		j.in.Notify.Webhook != nil, j.in.Notify.SMTP != nil).Scan(&picked, &inserted)
	if err != nil {
		return 0, fmt.Errorf("inactivity: record notices: %w", err)
	}
	r.Add("notices_recorded", int64(inserted))
	j.cfg.Logger.Debug("notices recorded", slog.Int("subjects", picked), slog.Int("notices", inserted))
	return picked, nil
}

// Check implements jobs.Checker: the inactivity section against the
// catalog.
func (j *Job) Check(ctx context.Context) error {
	_, err := j.check(ctx)
	return err
}

var _ jobs.Checker = (*Job)(nil)
