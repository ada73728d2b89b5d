package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
)

// dropPartitions removes the partitions in old, all wholly older than the
// cutoff, without reading their rows: the report gives the planner's row
// counts (action drop_partition_estimated); a dry run counts them instead
// (action drop_partition).
//
// Every DETACH invalidates the parent's cached description in every
// session of the application, which then rebuilds it and replans each of
// its statements on the table: one partition at a time, that is a replan
// of nearly every statement while the job runs (bench/impact c2, c3). So
// the partitions are marked, detached detachGroup at a time in one
// transaction each (plain DETACH: one invalidation per group; the
// parent's lock asked for with NOWAIT first, as every query of the table
// queues behind a waiting DETACH: lockParent), and then dropped one by one, no
// longer part of the parent. Each of these transactions is one of the
// run's batches to the governor (afterDDL): while the application works,
// the next waits until lethe is back within its share of database time.
// Where the plain DETACH cannot get its lock within its attempts and the
// server allows it (PostgreSQL 14 and later, no default partition), the
// job falls back to DETACH ... CONCURRENTLY, which never blocks the
// application.
//
// A run killed half way leaves either a partition in "detach pending"
// state, which the next run finalizes, or a detached table that carries the
// marker comment, which the next run drops (dropLeftovers); so does a run
// whose budget runs out, or that is asked to stop, between two drops
// (counted in partitions_left and rows_left).
func (j *Job) dropPartitions(ctx context.Context, r *jobs.Report, tr *tableRun, old []partition, hasDefault bool) error {
	if len(old) == 0 {
		return nil
	}
	if j.s.DryRun() {
		for _, p := range old {
			rows, err := j.countRows(ctx, p.ident)
			if err != nil {
				return fmt.Errorf("retention %s: count partition %s: %w", tr.t.name(), p.name, err)
			}
			tr.dropped++
			r.AddRows(tr.t.name(), "drop_partition", rows)
		}
		return nil
	}
	var pending, plain []partition
	for _, p := range old {
		if p.pending {
			pending = append(pending, p)
		} else {
			plain = append(plain, p)
		}
	}
	if len(pending) > 0 { // an interrupted concurrent detach: FINALIZE
		if err := j.detachConcurrently(ctx, r, tr, pending); err != nil {
			return err
		}
	}
	return j.detachGrouped(ctx, r, tr, plain, j.pgVer >= 140000 && !hasDefault)
}

// detachGroup is the most partitions one DETACH transaction takes: more
// than a year of weekly partitions, so that a table's first run, which
// finds its whole history old, makes the application's sessions replan
// once, not once per 32 partitions. Each partition adds about 0.5 ms of
// catalog work to the time the parent stays locked (bench/impact c2 on a
// loaded two-core machine: 15-26 ms for 32, 7-12 ms for 15).
const detachGroup = 64

// detachGrouped marks parts, detaches them detachGroup at a time, each
// transaction paced as a batch (afterDDL), and drops them. When a group
// cannot get its lock and concurrentOK, the rest go by
// detachConcurrently.
func (j *Job) detachGrouped(ctx context.Context, r *jobs.Report, tr *tableRun, parts []partition, concurrentOK bool) (err error) {
	if len(parts) == 0 {
		return nil
	}
	if err := j.mark(ctx, tr, parts); err != nil {
		return err
	}
	var detached []partition
	defer func() { err = j.dropAfter(ctx, r, tr, detached, err) }()
	for len(parts) > 0 {
		if err := j.mustStop(ctx); err != nil {
			return err
		}
		group := parts[:min(len(parts), detachGroup)]
		j.cfg.beforeDDL()
		el, err := j.detachTx(ctx, tr, group)
		var locked *lockedOutError
		if errors.As(err, &locked) && concurrentOK {
			j.cfg.Logger.Info("parent stays locked: detaching concurrently", slog.String("table", tr.t.name()),
				slog.Int("partitions", len(parts)))
			return j.detachConcurrently(ctx, r, tr, parts)
		}
		if err != nil {
			return err
		}
		detached = append(detached, group...)
		parts = parts[len(group):]
		// The queries that queued behind the lock drain, and the
		// application's sessions replan, before the next group or drop.
		if err := j.afterDDL(ctx, el, len(parts) > 0); err != nil {
			return err
		}
	}
	return nil
}

// afterDDL hands a partition transaction (a mark, a grouped detach, a
// drop) that took el to the governor as one of the run's batches. While
// the application works (the latency probe paces the run), the next
// step's mustStop then waits until lethe is back within its share of
// database time: at the retention's default cap of 0.02, 49 times el
// (bench/impact P3: dropped back to back, the drops held half of the
// database's time for half a second, and the application's commits that
// met their WAL flushes made its p99). Unpaced, when more follows, it
// pauses as long as el.
func (j *Job) afterDDL(ctx context.Context, el time.Duration, more bool) error {
	j.s.ObserveBatch(el)
	if j.cfg.hooks.ddlDone != nil {
		j.cfg.hooks.ddlDone(el)
	}
	if !more || j.s.Paced() {
		return nil
	}
	return j.s.Limits.Sleep(ctx, el)
}

// dropAfter drops what a detach loop detached once it returned err: after
// a failure too (a later partition's), and then err is what is returned;
// after a success, the drop's error is. Once ctx is done they stay,
// marked, for the next run.
func (j *Job) dropAfter(ctx context.Context, r *jobs.Report, tr *tableRun, detached []partition, err error) error {
	if len(detached) == 0 {
		return err
	}
	if ctx.Err() != nil {
		tr.detachedLeft = append(tr.detachedLeft, detached...)
		return err
	}
	if derr := j.dropDetached(ctx, r, tr, detached); err == nil {
		return derr
	}
	return err
}

// mark gives parts the marker comment, in one transaction, so that a run
// killed between their detach and their drop leaves tables the next run
// finds and drops.
func (j *Job) mark(ctx context.Context, tr *tableRun, parts []partition) error {
	comment := make([]string, len(parts))
	for i, p := range parts {
		comment[i] = fmt.Sprintf("COMMENT ON TABLE %s IS '%s'", p.ident, marker(tr.t.table.OID))
	}
	j.cfg.beforeDDL()
	el, err := j.retriedTx(ctx, tr, comment...)
	if err != nil {
		return err
	}
	return j.afterDDL(ctx, el, false)
}

// dropped records one dropped partition.
func (j *Job) dropped(r *jobs.Report, tr *tableRun, p partition) {
	tr.dropped++
	r.AddRows(tr.t.name(), "drop_partition_estimated", p.estRows)
}

// detachConcurrently marks the partitions in one transaction, detaches
// each without blocking the parent, and drops them together. A detach
// that fails in its waiting phase leaves the partition pending: the
// retries finish it with FINALIZE.
func (j *Job) detachConcurrently(ctx context.Context, r *jobs.Report, tr *tableRun, parts []partition) (err error) {
	parent := tr.t.table.Ident()
	if err := j.mark(ctx, tr, parts); err != nil {
		return err
	}
	var detached []partition
	defer func() { err = j.dropAfter(ctx, r, tr, detached, err) }()
	for _, p := range parts {
		if err := j.mustStop(ctx); err != nil {
			return err
		}
		started := time.Now()
		err := j.retryLocks(ctx, tr, func() error {
			var pending bool
			err := j.cfg.Pool.QueryRow(ctx, "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = $1", p.oid).Scan(&pending)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return nil // detached by an earlier attempt
			case err != nil:
				return err
			case pending:
				return j.autocommit(ctx, fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s FINALIZE", parent, p.ident))
			}
			return j.autocommit(ctx, fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY", parent, p.ident))
		})
		if err != nil {
			return err
		}
		detached = append(detached, p)
		r.Max(tableCounter(tr.t.name(), LongestPartitionDropMS), time.Since(started).Milliseconds())
	}
	return nil
}

// dropDetached drops detached partitions, one per transaction, each a
// batch to the governor (afterDDL): they are no longer part of the
// parent, so this locks only them, and each DROP's catalog invalidations,
// WAL flush and file removal reach the application's sessions one at a
// time (32 tables in one DROP sent more invalidation messages than the
// shared queue holds: sessions lost their whole catalog cache). Once the
// budget is spent or a stop is asked for, the rest stay, marked, for the
// next run (tr.detachedLeft).
func (j *Job) dropDetached(ctx context.Context, r *jobs.Report, tr *tableRun, parts []partition) error {
	done := 0
	defer func() { tr.detachedLeft = append(tr.detachedLeft, parts[done:]...) }()
	for i, p := range parts {
		if err := j.mustStop(ctx); err != nil {
			return err
		}
		j.cfg.beforeDDL()
		el, err := j.dropTable(ctx, tr, p.ident)
		if err != nil {
			return err
		}
		done++
		j.dropped(r, tr, p)
		r.Max(tableCounter(tr.t.name(), LongestPartitionDropMS), el.Milliseconds())
		j.cfg.Logger.Debug("partition dropped", slog.String("table", tr.t.name()), slog.Duration("duration", el))
		if err := j.afterDDL(ctx, el, i < len(parts)-1); err != nil {
			return err
		}
	}
	return nil
}

// dropLeftovers drops the tables that an earlier run detached from tr's
// table and did not drop (killed, or stopped between two drops), paced as
// the drops of a detach are.
func (j *Job) dropLeftovers(ctx context.Context, tr *tableRun) error {
	rows, err := j.cfg.Pool.Query(ctx, leftoverSQL, marker(tr.t.table.OID))
	if err != nil {
		return fmt.Errorf("retention %s: find detached partitions: %w", tr.t.name(), err)
	}
	type left struct {
		OID         uint32
		Ident, Name string
		EstRows     int64
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[left])
	if err != nil {
		return fmt.Errorf("retention %s: find detached partitions: %w", tr.t.name(), err)
	}
	if len(found) == 0 {
		return nil
	}
	parts := make([]partition, len(found))
	for i, l := range found {
		parts[i] = partition{oid: l.OID, ident: l.Ident, name: l.Name, estRows: l.EstRows}
	}
	j.cfg.Logger.Info("dropping the partitions an earlier run detached", slog.String("table", tr.t.name()),
		slog.Int("partitions", len(parts)))
	return j.dropDetached(ctx, j.s.Report, tr, parts)
}

// dropTable drops a table and returns how long its transaction took.
func (j *Job) dropTable(ctx context.Context, tr *tableRun, ident string) (time.Duration, error) {
	return j.retriedTx(ctx, tr, "DROP TABLE IF EXISTS "+ident)
}

// retriedTx runs stmts in one transaction (inTx), retried after lock
// trouble (retryLocks), and returns how long the transaction that
// committed took: the governor paces by the work, not by the backoff
// between attempts.
func (j *Job) retriedTx(ctx context.Context, tr *tableRun, stmts ...string) (time.Duration, error) {
	var el time.Duration
	err := j.retryLocks(ctx, tr, func() (err error) {
		el, err = j.inTx(ctx, tr, stmts...)
		return err
	})
	return el, err
}

// retryLocks runs fn again after lock trouble (jobs.Retryable),
// LockRetries times at most, pausing by the shared backoff.
func (j *Job) retryLocks(ctx context.Context, tr *tableRun, fn func() error) error {
	return j.retryLocksN(ctx, tr, j.cfg.LockRetries, fn)
}

// retryLocksN is retryLocks with retries tries at most.
func (j *Job) retryLocksN(ctx context.Context, tr *tableRun, retries int, fn func() error) error {
	for a := 0; ; a++ {
		err := fn()
		if err == nil {
			return nil
		}
		if !jobs.Retryable(err) {
			return fmt.Errorf("retention %s: %w", tr.t.name(), err)
		}
		if a == retries {
			return &lockedOutError{table: tr.t.name(), err: err}
		}
		j.s.Report.Add(LockRetries, 1)
		j.cfg.Logger.Debug("lock not granted, retrying", slog.String("table", tr.t.name()), slog.String("sqlstate", jobs.SQLState(err)))
		if j.cfg.hooks.lockRetry != nil {
			j.cfg.hooks.lockRetry()
		}
		if err := j.s.Limits.Sleep(ctx, jobs.Backoff(a+1)); err != nil {
			return err
		}
	}
}

// inTx runs statements in one transaction with the job's timeouts, counts
// its duration as a transaction of tr and returns it.
func (j *Job) inTx(ctx context.Context, tr *tableRun, stmts ...string) (time.Duration, error) {
	started := time.Now()
	tx, err := j.s.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	el := time.Since(started)
	tr.longest = max(tr.longest, el)
	return el, nil
}

// autocommit runs one statement that cannot run in a transaction block
// (DETACH ... CONCURRENTLY), on a connection whose session timeouts it
// sets to the run's and resets: jobs.Session.Begin cannot serve here.
func (j *Job) autocommit(ctx context.Context, sql string) error {
	conn, err := j.cfg.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
		ms(j.s.Limits.StatementTimeout), ms(j.s.Limits.LockTimeout)); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	if _, rerr := conn.Exec(context.WithoutCancel(ctx), "RESET statement_timeout; RESET lock_timeout"); rerr != nil {
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
	}
	return err
}

// countRows counts a relation's rows (in a dry run: a read-only
// transaction).
func (j *Job) countRows(ctx context.Context, ident string) (int64, error) {
	tx, err := j.s.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var n int64
	err = tx.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n)
	return n, err
}
