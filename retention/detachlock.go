package retention

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
)

// ddlLockTimeout bounds the lock wait of the n-th attempt (from 1) at a
// plain DETACH once its parentLockTries requests with NOWAIT were refused:
// a fifth of TargetBatchTime (50 ms by default), doubled at the second and
// third attempts and no more (200 ms), at most LockTimeout. While a DETACH
// waits for its ACCESS EXCLUSIVE lock on the parent, every query of the
// application on the table queues behind it: the wait is what the
// application's latency pays, so it stays short, and a busy table gets
// more attempts (ddlLockRetries) instead of longer ones.
func (j *Job) ddlLockTimeout(n int) time.Duration {
	return max(min(j.cfg.TargetBatchTime/5<<min(n-1, 2), j.s.Limits.LockTimeout), time.Millisecond)
}

// ddlLockRetries is how many times a plain DETACH is tried again: four
// times LockRetries (20 by default), its attempts being short.
func (j *Job) ddlLockRetries() int { return 4 * j.cfg.LockRetries }

// parentLockTries is how many times an attempt at a plain DETACH asks for
// the parent's lock with NOWAIT before it waits in the lock queue.
const parentLockTries = 50

// parentLockPause is the pause after a refused NOWAIT request: 5 ms on
// average, about an application transaction's length, jittered by half so
// that the requests do not fall in step with the application's
// transactions.
func parentLockPause() time.Duration {
	const d = 5 * time.Millisecond
	return d/2 + rand.N(d+1)
}

// detachTx detaches the partitions of group in one transaction that first
// takes the parent's lock (lockParent), and returns how long it held that
// lock.
func (j *Job) detachTx(ctx context.Context, tr *tableRun, group []partition) (time.Duration, error) {
	parent := tr.t.table.Ident()
	stmts := make([]string, len(group))
	for i, p := range group {
		stmts[i] = fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s", parent, p.ident)
	}
	var held time.Duration
	attempt := 0
	err := j.retryLocksN(ctx, tr, j.ddlLockRetries(), func() error {
		attempt++
		tx, err := j.lockParent(ctx, parent, j.ddlLockTimeout(attempt))
		if err != nil {
			return err
		}
		locked := time.Now()
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		// One round trip: the parent stays locked only as long as the
		// server works.
		if _, err := tx.Exec(ctx, strings.Join(stmts, "; ")); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		held = time.Since(locked)
		return nil
	})
	if err != nil {
		return 0, err
	}
	tr.longest = max(tr.longest, held)
	j.s.Report.Max(tableCounter(tr.t.name(), LongestPartitionDropMS), held.Milliseconds())
	j.cfg.Logger.Debug("partitions detached", slog.String("table", tr.t.name()), slog.Int("partitions", len(group)),
		slog.Duration("lock_held", held), slog.Bool("concurrently", false))
	return held, nil
}

// lockParent begins a transaction that holds the ACCESS EXCLUSIVE lock of
// parent (not of its partitions: the DETACH takes those it needs), its
// lock waits bounded by wait. A request that waits sits in the parent's
// lock queue, and every query of the application on the table queues
// behind it; a refused NOWAIT request costs the application nothing. So
// the lock is asked for with NOWAIT, parentLockTries times with short
// pauses, and only a table that was never free at any of them (which
// NOWAIT alone might never get) is waited for, in the queue, at most wait.
func (j *Job) lockParent(ctx context.Context, parent string, wait time.Duration) (pgx.Tx, error) {
	for try := 1; ; try++ {
		queue := try > parentLockTries
		tx, err := j.beginLocked(ctx, parent, queue, wait)
		if err == nil || queue || jobs.SQLState(err) != "55P03" {
			return tx, err
		}
		if j.cfg.hooks.parentBusy != nil {
			j.cfg.hooks.parentBusy()
		}
		if err := j.s.Limits.Sleep(ctx, parentLockPause()); err != nil {
			return nil, err
		}
	}
}

// beginLocked begins a transaction whose lock waits end after wait and
// locks parent in it, with NOWAIT unless queue; it returns the
// transaction only once it holds the lock.
func (j *Job) beginLocked(ctx context.Context, parent string, queue bool, wait time.Duration) (pgx.Tx, error) {
	lock := "LOCK TABLE ONLY " + parent + " IN ACCESS EXCLUSIVE MODE"
	if !queue {
		lock += " NOWAIT"
	}
	b := &pgx.Batch{}
	// The commit does not wait for its WAL to reach the disk while the
	// parent stays locked. A crash may lose the detach, never half of
	// it: the next run detaches again.
	b.Queue("SELECT set_config('lock_timeout', $1, true), set_config('synchronous_commit', 'off', true)", ms(wait))
	b.Queue(lock)
	tx, br, err := j.s.BeginBatch(ctx, b)
	if err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return tx, nil
}
