package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/policy"
)

// Job is the retention job.
type Job struct {
	cfg Config

	// Set by Run.
	report   *jobs.Report
	deadline time.Time
	pgVer    int
}

var _ jobs.Job = (*Job)(nil)

// New returns the retention job.
func New(cfg Config) (*Job, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Job{cfg: cfg}, nil
}

// Name implements jobs.Job.
func (j *Job) Name() string { return "retention" }

// Run implements jobs.Job. It checks every rule against the catalog before
// any change, then works through the rules in policy order. A table that
// another run is working on, or that other sessions' locks keep the job
// from, is skipped and reported; what was committed stays committed.
//
// The report holds, per table, the rows deleted (rows map, action delete;
// action drop_partition_estimated for the planner's count of the rows of
// dropped partitions, drop_partition for their exact count in a dry run)
// and counters named "TABLE.batches", "TABLE.block_range_walks",
// "TABLE.partitions_dropped", "TABLE.longest_transaction_ms" and
// "TABLE.rows_left", with totals under the bare names.
func (j *Job) Run(ctx context.Context, r *jobs.Report) (err error) {
	cfg := &j.cfg
	j.report = r
	if len(cfg.Policy.Retention) == 0 {
		return &jobs.ConfigError{Err: fmt.Errorf("policy %s has no retention: rules", cfg.Policy.Path)}
	}
	targets, err := resolve(ctx, cfg.Pool, cfg.Policy)
	if err != nil {
		var pe *policy.Error
		if errors.As(err, &pe) {
			return err
		}
		return fmt.Errorf("retention: read catalog: %w", err)
	}
	now := cfg.AsOf
	if err := cfg.Pool.QueryRow(ctx, "SELECT now(), current_setting('server_version_num')::int").Scan(&now, &j.pgVer); err != nil {
		return fmt.Errorf("retention: read the database clock: %w", err)
	}
	if !cfg.AsOf.IsZero() {
		now = cfg.AsOf
	}
	if !cfg.DryRun {
		var run *ledger.Run
		if run, err = ledger.BeginRun(ctx, cfg.Pool, j.Name(), ""); err != nil {
			return err
		}
		// err is Run's named result: Finish records how the run ended.
		defer run.Finish(ctx, &err, r)
	}
	// The budget is for the batches: it starts once the run is set up.
	j.deadline = cfg.now().Add(cfg.TimeBudget)
	var errs []error
	for _, t := range targets {
		tr := &tableRun{t: t, cutoff: now.Add(-t.rule.Age()), size: cfg.BatchSize}
		err := j.runTable(ctx, r, tr)
		j.reportTable(ctx, r, tr, err)
		if err != nil && !errors.Is(err, errLeft) {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// runTable does one rule under the table's advisory lock.
func (j *Job) runTable(ctx context.Context, r *jobs.Report, tr *tableRun) error {
	if err := j.mustStop(ctx); err != nil {
		return err
	}
	unlock, ok, err := j.lockTable(ctx, tr.t)
	if err != nil {
		return err
	}
	if !ok {
		r.Add("tables_skipped", 1)
		r.Set(tr.t.name()+".skipped_busy", 1)
		tr.skipped = true
		j.cfg.Logger.Warn("table skipped: another run is working on it", slog.String("table", tr.t.name()))
		return nil
	}
	defer unlock()
	if tr.t.table.Partitioned {
		return j.partitioned(ctx, r, tr)
	}
	return j.drainRel(ctx, r, tr, tr.t.table.Ident())
}

// mustStop returns errLeft once the budget is spent or a stop was asked
// for, and ctx's error once it is cancelled.
func (j *Job) mustStop(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if j.cfg.Stop.Err() != nil {
		j.report.Set("stopped", 1)
		return errLeft
	}
	if j.cfg.now().After(j.deadline) {
		j.report.Set("budget_exhausted", 1)
		return errLeft
	}
	return nil
}

// lockKeyHigh is the first half of the job's advisory lock keys ("leth").
const lockKeyHigh = int64(0x6c657468)

// lockTable takes the session advisory lock of t's table on a connection
// of its own, so that a second run skips the table instead of doing the
// same work. A killed run's lock goes with its connection.
func (j *Job) lockTable(ctx context.Context, t *target) (unlock func(), ok bool, err error) {
	conn, err := j.cfg.Pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("retention: lock %s: %w", t.name(), err)
	}
	key := lockKeyHigh<<32 | int64(t.table.OID)
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil || !ok {
		conn.Release()
		if err != nil {
			return nil, false, fmt.Errorf("retention: lock %s: %w", t.name(), err)
		}
		return nil, false, nil
	}
	return func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // closing the session releases the lock
		}
		conn.Release()
	}, true, nil
}

// reportTable records one table's numbers and logs its line.
func (j *Job) reportTable(ctx context.Context, r *jobs.Report, tr *tableRun, err error) {
	name := tr.t.name()
	r.Add(name+".batches", tr.batches)
	r.Add("batches", tr.batches)
	r.Add(name+".partitions_dropped", tr.dropped)
	r.Add("partitions_dropped", tr.dropped)
	r.Max(name+".longest_transaction_ms", tr.longest.Milliseconds())
	r.Max("longest_transaction_ms", tr.longest.Milliseconds())
	if tr.skipped {
		return // the run that holds the table reports it
	}
	left := int64(0)
	if err != nil {
		var cerr error
		left, cerr = j.rowsLeft(context.WithoutCancel(ctx), tr)
		if cerr != nil {
			j.cfg.Logger.Warn("rows left not counted", slog.String("table", name), slog.String("error", pgerr.Redact(cerr).Error()))
			left = -1
		}
	} else if j.cfg.DryRun {
		left = 0
	}
	r.Set(name+".rows_left", left)
	if left > 0 {
		r.Add("rows_left", left)
	}
	attrs := []any{slog.String("table", name), slog.Time("cutoff", tr.cutoff), slog.Int64("rows", tr.deleted),
		slog.Int64("partitions", tr.dropped), slog.Int64("batches", tr.batches), slog.Int64("rows_left", left),
		slog.Int64("longest_transaction_ms", tr.longest.Milliseconds())}
	if err != nil && !errors.Is(err, errLeft) {
		j.cfg.Logger.Warn("table not done", append(attrs, slog.String("error", pgerr.Redact(err).Error()))...)
		return
	}
	j.cfg.Logger.Info("table done", attrs...)
}

// rowsLeft counts the rows of a table still older than the cutoff.
func (j *Job) rowsLeft(ctx context.Context, tr *tableRun) (int64, error) {
	q := tr.t.buildCount(tr.t.table.Ident())
	args := append([]any{tr.cutoff}, tr.t.filterArgs()...)
	tx, err := j.cfg.Pool.BeginTx(ctx, readOnly)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, setTimeoutsSQL, ms(j.cfg.StatementTimeout), ms(j.cfg.LockTimeout)); err != nil {
		return 0, err
	}
	var n int64
	err = tx.QueryRow(ctx, q, args...).Scan(&n)
	return n, err
}

// Check implements jobs.Checker: the retention rules against the catalog.
func (j *Job) Check(ctx context.Context) error {
	_, err := resolve(ctx, j.cfg.Pool, j.cfg.Policy)
	return err
}

var _ jobs.Checker = (*Job)(nil)
