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

// dropPartition removes a partition wholly older than the cutoff: it counts
// its rows, detaches it and drops it. DETACH ... CONCURRENTLY is used where
// the server allows it (PostgreSQL 14 and later, no default partition), so
// that the parent is never locked against the application's queries;
// otherwise DETACH and DROP run in one short transaction. Every lock wait
// is bounded by lock_timeout and retried a bounded number of times, so the
// job never queues for long in front of other sessions.
//
// A run killed half way leaves either a partition in "detach pending"
// state, which the next run finalizes, or a detached table that carries the
// marker comment, which the next run drops (dropLeftovers).
func (j *Job) dropPartition(ctx context.Context, r *jobs.Report, tr *tableRun, p partition, hasDefault bool) error {
	started := time.Now()
	rows, err := j.countRows(ctx, p.ident)
	if err != nil {
		return fmt.Errorf("retention %s: count partition %s: %w", tr.t.name(), p.name, err)
	}
	if j.cfg.DryRun {
		tr.dropped++
		r.AddRows(tr.t.name(), "drop_partition", rows)
		return nil
	}
	parent := tr.t.table.Ident()
	concurrent := j.pgVer >= 140000 && !hasDefault
	switch {
	case p.pending:
		err = j.retryLocks(ctx, tr, func() error {
			return j.autocommit(ctx, fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s FINALIZE", parent, p.ident))
		})
		if err == nil {
			err = j.dropTable(ctx, tr, p.ident)
		}
	case concurrent:
		err = j.detachConcurrently(ctx, tr, p)
		if err == nil {
			err = j.dropTable(ctx, tr, p.ident)
		}
	default:
		err = j.retryLocks(ctx, tr, func() error {
			return j.inTx(ctx, tr, fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s", parent, p.ident),
				"DROP TABLE "+p.ident)
		})
	}
	if err != nil {
		return err
	}
	el := time.Since(started)
	tr.dropped++
	r.AddRows(tr.t.name(), "drop_partition", rows)
	r.Max(tr.t.name()+".longest_partition_drop_ms", el.Milliseconds())
	j.cfg.Logger.Debug("partition dropped", slog.String("table", tr.t.name()), slog.String("partition", p.name),
		slog.Int64("rows", rows), slog.Duration("duration", el), slog.Bool("concurrently", concurrent || p.pending))
	return nil
}

// detachConcurrently marks the partition, then detaches it without
// blocking the parent. A detach that fails in its waiting phase leaves the
// partition pending: the retries finish it with FINALIZE.
func (j *Job) detachConcurrently(ctx context.Context, tr *tableRun, p partition) error {
	parent := tr.t.table.Ident()
	err := j.retryLocks(ctx, tr, func() error {
		return j.inTx(ctx, tr, fmt.Sprintf("COMMENT ON TABLE %s IS '%s'", p.ident, marker(tr.t.table.OID)))
	})
	if err != nil {
		return err
	}
	return j.retryLocks(ctx, tr, func() error {
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
}

// dropLeftovers drops the tables that a killed run detached from tr's table
// and did not drop.
func (j *Job) dropLeftovers(ctx context.Context, tr *tableRun) error {
	rows, err := j.cfg.Pool.Query(ctx, leftoverSQL, marker(tr.t.table.OID))
	if err != nil {
		return fmt.Errorf("retention %s: find detached partitions: %w", tr.t.name(), err)
	}
	type left struct {
		OID         uint32
		Ident, Name string
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[left])
	if err != nil {
		return fmt.Errorf("retention %s: find detached partitions: %w", tr.t.name(), err)
	}
	for _, l := range found {
		n, err := j.countRows(ctx, l.Ident)
		if err != nil {
			return fmt.Errorf("retention %s: count detached partition %s: %w", tr.t.name(), l.Name, err)
		}
		if err := j.dropTable(ctx, tr, l.Ident); err != nil {
			return err
		}
		tr.dropped++
		j.report.AddRows(tr.t.name(), "drop_partition", n)
		j.cfg.Logger.Info("detached partition of an earlier run dropped", slog.String("table", tr.t.name()), slog.String("partition", l.Name))
	}
	return nil
}

func (j *Job) dropTable(ctx context.Context, tr *tableRun, ident string) error {
	return j.retryLocks(ctx, tr, func() error { return j.inTx(ctx, tr, "DROP TABLE IF EXISTS "+ident) })
}

// retryLocks runs fn again after lock trouble, LockRetries times at most.
func (j *Job) retryLocks(ctx context.Context, tr *tableRun, fn func() error) error {
	for a := 0; ; a++ {
		err := fn()
		if err == nil || !lockTrouble(err) {
			if err != nil {
				return fmt.Errorf("retention %s: %w", tr.t.name(), err)
			}
			return nil
		}
		if a == j.cfg.LockRetries {
			return &lockedOutError{table: tr.t.name(), err: err}
		}
		j.report.Add("lock_retries", 1)
		j.cfg.Logger.Debug("lock not granted, retrying", slog.String("table", tr.t.name()), slog.String("error", err.Error()))
		if err := sleepCtx(ctx, backoff(a+1)); err != nil {
			return err
		}
	}
}

// inTx runs statements in one transaction with the job's timeouts and
// counts its duration as a transaction of tr.
func (j *Job) inTx(ctx context.Context, tr *tableRun, stmts ...string) error {
	started := time.Now()
	tx, err := j.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	tr.longest = max(tr.longest, time.Since(started))
	return nil
}

// autocommit runs one statement that cannot run in a transaction block, on
// a connection whose session timeouts it sets and resets.
func (j *Job) autocommit(ctx context.Context, sql string) error {
	conn, err := j.cfg.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
		ms(j.cfg.StatementTimeout), ms(j.cfg.LockTimeout)); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	if _, rerr := conn.Exec(context.WithoutCancel(ctx), "RESET statement_timeout; RESET lock_timeout"); rerr != nil {
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
	}
	return err
}

// countRows counts a relation's rows in a read-only transaction.
func (j *Job) countRows(ctx context.Context, ident string) (int64, error) {
	tx, err := j.cfg.Pool.BeginTx(ctx, readOnly)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, setTimeoutsSQL, ms(j.cfg.StatementTimeout), ms(j.cfg.LockTimeout)); err != nil {
		return 0, err
	}
	var n int64
	err = tx.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n)
	return n, err
}
