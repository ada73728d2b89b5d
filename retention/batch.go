package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-project/lethe/jobs"
)

// batchQueries are the statements that delete (or count) one batch of rel.
// They take $1 the cutoff, $2 the batch size, then the filter values, then
// (next only) the keyset: the retention column and key of the last row of
// the previous batch, as text.
type batchQueries struct {
	first, next string
}

// buildBatch builds the batch statements for rel (the table, or one of its
// partitions). A batch selects the next rows in (column, key) order after
// the previous batch's last row, so that it never walks again over the
// rows that earlier batches deleted, and deletes them by ctid: one index
// range scan and one TID scan.
func (t *target) buildBatch(rel string, dry bool) batchQueries {
	cols := append([]string{t.col.Ident()}, keyIdents(t.key)...)
	types := append([]string{t.col.Type}, keyTypes(t.key)...)
	conds, n := t.conditions(3)
	n--
	var q batchQueries
	var aliases, params, lastCols, desc []string
	for i := range cols {
		aliases = append(aliases, fmt.Sprintf("%s AS c%d", cols[i], i))
		params = append(params, fmt.Sprintf("$%d::text::%s", n+1+i, types[i]))
		lastCols = append(lastCols, fmt.Sprintf("l.c%d::text", i))
		desc = append(desc, fmt.Sprintf("c%d DESC", i))
	}
	order := strings.Join(cols, ", ")
	sel := func(keyset bool) string {
		where := conds
		if keyset {
			where += fmt.Sprintf(" AND (%s) > (%s)", order, strings.Join(params, ", "))
		}
		return fmt.Sprintf("SELECT ctid AS tid, %s FROM %s WHERE %s ORDER BY %s LIMIT $2",
			strings.Join(aliases, ", "), rel, where, order)
	}
	build := func(keyset bool) string {
		var b strings.Builder
		fmt.Fprintf(&b, "WITH sel AS MATERIALIZED (%s)", sel(keyset))
		done := "(SELECT count(*) FROM sel)"
		if !dry {
			fmt.Fprintf(&b, ", del AS (DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT tid FROM sel)) RETURNING 1)", rel)
			done = "(SELECT count(*) FROM del)"
		}
		fmt.Fprintf(&b, ", last AS (SELECT * FROM sel ORDER BY %s LIMIT 1)", strings.Join(desc, ", "))
		fmt.Fprintf(&b, " SELECT (SELECT count(*) FROM sel), %s, %s FROM (SELECT) one LEFT JOIN last l ON true",
			done, strings.Join(lastCols, ", "))
		return b.String()
	}
	q.first, q.next = build(false), build(true)
	return q
}

// conditions is the WHERE clause of the rows older than the cutoff ($1)
// that match the rule's filters, whose values are the parameters from
// $first on. It returns the number of the next free parameter.
func (t *target) conditions(first int) (string, int) {
	conds := []string{fmt.Sprintf("%s < %s", t.col.Ident(), t.cutoffExpr())}
	n := first
	for _, f := range t.filters {
		if f.value == nil {
			conds = append(conds, f.ident+" IS NULL")
			continue
		}
		conds = append(conds, fmt.Sprintf("%s = $%d::text::%s", f.ident, n, f.typ))
		n++
	}
	return strings.Join(conds, " AND "), n
}

// buildLeft counts the rows of rel older than the cutoff and says how far
// past it, in whole seconds, the oldest of them is (0 when none is): $1
// the cutoff, then the filter values.
func (t *target) buildLeft(rel string) string {
	conds, _ := t.conditions(2)
	return fmt.Sprintf("SELECT count(*), COALESCE(floor(EXTRACT(EPOCH FROM %s - min(%s)))::bigint, 0) FROM %s WHERE %s",
		t.cutoffExpr(), t.col.Ident(), rel, conds)
}

// filterArgs returns the filter values in parameter order.
func (t *target) filterArgs() []any {
	var out []any
	for _, f := range t.filters {
		if f.value != nil {
			out = append(out, *f.value)
		}
	}
	return out
}

func keyIdents(k []keyCol) []string {
	out := make([]string, len(k))
	for i, c := range k {
		out[i] = c.ident
	}
	return out
}

func keyTypes(k []keyCol) []string {
	out := make([]string, len(k))
	for i, c := range k {
		out[i] = c.typ
	}
	return out
}

// tableRun is what the job knows of one target during a run.
type tableRun struct {
	t      *target
	cutoff time.Time
	// sizer adapts the keyset batch size of the table (jobs.Sizer).
	sizer *jobs.Sizer
	// batches, deleted, blocks (walked in block ranges) and longest are
	// reported at the end.
	batches, deleted, dropped, blocks int64
	// pruned counts the blocks read again to prune them (walkRange).
	pruned  int64
	longest time.Duration
	// skipped is true when another run holds the table.
	skipped bool
	// owner is true when this shard owns the table (jobs.Shard): it
	// detaches and drops its old partitions.
	owner bool
	// detachedLeft are the partitions detached and not dropped when the
	// run stopped (budget, stop): the next run drops them first.
	detachedLeft []partition
}

// errLeft says that the run stopped before a table was done: budget spent
// or stop requested. It is not a failure.
var errLeft = errors.New("left for the next run")

// lockedOutError says that other sessions' locks kept the job from a table
// after every retry.
type lockedOutError struct {
	table string
	err   error
}

func (e *lockedOutError) Error() string {
	return fmt.Sprintf("%s left for the next run: lock not granted after retries: %v", e.table, e.err)
}

func (e *lockedOutError) Unwrap() error { return e.err }

// drain deletes (or counts) the rows of rel older than the cutoff, batch
// after batch, until none is left or the run must stop.
func (j *Job) drain(ctx context.Context, r *jobs.Report, tr *tableRun, rel string) error {
	q := tr.t.buildBatch(rel, j.s.DryRun())
	var last []*string
	for {
		if err := j.mustStop(ctx); err != nil {
			return err
		}
		j.cfg.beforeBatch()
		args := append([]any{tr.cutoff, 0}, tr.t.filterArgs()...)
		sql := q.first
		if last != nil {
			sql = q.next
			for _, v := range last {
				args = append(args, v)
			}
		}
		res, err := j.batchWithRetry(ctx, tr, sql, args)
		if err != nil {
			return err
		}
		tr.deleted += res.done
		r.AddRows(tr.t.name(), "delete", res.done)
		if res.selected < int64(res.size) {
			return nil
		}
		last = res.last
		if err := j.pause(ctx); err != nil {
			return err
		}
	}
}

type batchResult struct {
	selected, done int64
	size           int
	last           []*string
}

// batchWithRetry runs one batch of the table's adaptive size (jobs.Sizer:
// halved after a statement timeout, adapted to the batch's time) and
// pauses after lock trouble. Durations are read from the real clock, here
// and for block ranges and partition drops: they measure the server's
// speed, which sizes the next batch. The run's clock (s.Limits) is for the
// budget and the pauses.
func (j *Job) batchWithRetry(ctx context.Context, tr *tableRun, sql string, args []any) (batchResult, error) {
	cfg := &j.cfg
	lockTries := 0
	for {
		size := tr.sizer.Size()
		args[1] = size
		started := time.Now()
		res, err := j.batch(ctx, tr, sql, args)
		el := time.Since(started)
		if err == nil {
			res.size = size
			tr.batches++
			tr.longest = max(tr.longest, el)
			j.s.ObserveBatch(el)
			cfg.Logger.Debug("batch done", slog.String("table", tr.t.name()), slog.Int("size", size),
				slog.Int64("rows", res.done), slog.Duration("duration", el))
			tr.sizer.Observe(size, int(res.selected), el)
			return res, nil
		}
		switch {
		case statementTimedOut(ctx, err) && size > 1:
			cfg.Logger.Debug("batch timed out, halved", slog.String("table", tr.t.name()), slog.Int("size", tr.sizer.Halve()))
			j.s.Report.Add(jobs.BatchesRetried, 1)
		case jobs.Retryable(err):
			if err := j.lockPause(ctx, tr, &lockTries, err); err != nil {
				return res, err
			}
		default:
			return res, fmt.Errorf("retention %s: batch: %w", tr.t.name(), err)
		}
	}
}

// batch runs one batch in its own transaction.
func (j *Job) batch(ctx context.Context, tr *tableRun, sql string, args []any) (batchResult, error) {
	var res batchResult
	tx, err := j.s.Begin(ctx)
	if err != nil {
		return res, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	ncols := 1 + len(tr.t.key)
	res.last = make([]*string, ncols)
	dest := []any{&res.selected, &res.done}
	for i := range res.last {
		dest = append(dest, &res.last[i])
	}
	if err := tx.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		return res, err
	}
	if !j.s.DryRun() {
		if err := tx.Commit(ctx); err != nil {
			return res, err
		}
	}
	return res, nil
}

// lockPause pauses before the retry of a statement that other sessions'
// locks kept from running (jobs.Retryable), by the shared backoff and the
// run's clock, or, once it was tried LockRetries times more, returns the
// error that leaves the table for the next run.
func (j *Job) lockPause(ctx context.Context, tr *tableRun, tries *int, err error) error {
	if *tries >= j.cfg.LockRetries {
		return &lockedOutError{table: tr.t.name(), err: err}
	}
	*tries++
	j.s.Report.Add(jobs.BatchesRetried, 1)
	return j.s.Limits.Sleep(ctx, jobs.Backoff(*tries))
}

// pause sleeps Config.Pause between two batches, by the run's clock.
func (j *Job) pause(ctx context.Context) error {
	if j.cfg.Pause <= 0 {
		return nil
	}
	return j.s.Limits.Sleep(ctx, j.cfg.Pause)
}

// ms is d in milliseconds, as set_config takes a timeout.
func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
