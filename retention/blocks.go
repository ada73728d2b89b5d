package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/lethe-project/lethe/jobs"
)

// relStatsSQL reads what the choice of method needs about one relation
// ($1, a quoted name): its size in blocks now, the planner's row and page
// counts, and whether a valid index starts with the retention column ($2).
const relStatsSQL = `
SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint, c.reltuples::float8, c.relpages::bigint,
       EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
               WHERE i.indrelid = c.oid AND i.indisvalid AND a.attname = $2)
FROM pg_class c WHERE c.oid = $1::text::regclass`

// relStats is one relation as the method choice sees it.
type relStats struct {
	blocks    int64   // pg_relation_size / block_size, read once
	reltuples float64 // the planner's row count; -1 when never analyzed
	relpages  int64
	indexed   bool // an index starts with the retention column
}

// rowsPerBlock is the planner's average, or a guess when it has none.
func (s relStats) rowsPerBlock() float64 {
	if s.reltuples > 0 && s.relpages > 0 {
		return max(s.reltuples/float64(s.relpages), 1)
	}
	return 100
}

// drainRel deletes the expired rows of rel (a plain table or a leaf
// partition) by the method that costs less for it:
//
//   - block ranges (walkBlocks) when no index starts with the retention
//     column, when the planner has no statistics, or when the planner
//     estimates that at least Config.BlockRangeFraction of the rows are
//     expired: a walk reads the whole heap once, sequentially;
//   - keyset batches (drain) otherwise: an index range scan reads only the
//     expired rows, which wins when they are few.
func (j *Job) drainRel(ctx context.Context, r *jobs.Report, tr *tableRun, rel string) error {
	st, err := j.relStats(ctx, tr, rel)
	if err != nil {
		return fmt.Errorf("retention %s: read size of %s: %w", tr.t.name(), rel, err)
	}
	blocks, why := true, "no index starts with the column"
	switch {
	case j.pgVer < 140000:
		blocks, why = false, "no TID Range Scan before PostgreSQL 14"
	case st.indexed && j.cfg.BlockRangeFraction > 1:
		blocks, why = false, "block ranges disabled"
	case st.indexed:
		blocks, why = true, "no statistics"
		if st.reltuples > 0 {
			est, err := j.estimateExpired(ctx, tr, rel)
			if err != nil {
				return fmt.Errorf("retention %s: estimate expired rows of %s: %w", tr.t.name(), rel, err)
			}
			frac := est / st.reltuples
			blocks = frac >= j.cfg.BlockRangeFraction
			why = fmt.Sprintf("estimated expired fraction %.3f, block ranges from %.3f", frac, j.cfg.BlockRangeFraction)
		}
	}
	j.cfg.Logger.Debug("method chosen", slog.String("table", tr.t.name()), slog.String("relation", rel),
		slog.Bool("block_ranges", blocks), slog.String("why", why), slog.Int64("blocks", st.blocks))
	if !blocks {
		return j.drain(ctx, r, tr, rel)
	}
	j.s.Report.Add(tableCounter(tr.t.name(), BlockRangeWalks), 1)
	return j.walkBlocks(ctx, r, tr, rel, st)
}

func (j *Job) relStats(ctx context.Context, tr *tableRun, rel string) (relStats, error) {
	var st relStats
	err := j.cfg.Pool.QueryRow(ctx, relStatsSQL, rel, tr.t.col.Name).Scan(&st.blocks, &st.reltuples, &st.relpages, &st.indexed)
	return st, err
}

// estimateExpired asks the planner how many rows of rel are expired: an
// EXPLAIN, which reads pg_stats and no row.
func (j *Job) estimateExpired(ctx context.Context, tr *tableRun, rel string) (float64, error) {
	conds, _ := tr.t.conditions(2)
	args := append([]any{tr.cutoff}, tr.t.filterArgs()...)
	var plan []byte
	q := fmt.Sprintf("EXPLAIN (FORMAT JSON) SELECT 1 FROM %s WHERE %s", rel, conds)
	if err := j.cfg.Pool.QueryRow(ctx, q, args...).Scan(&plan); err != nil {
		return 0, err
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal(plan, &out); err != nil {
		return 0, fmt.Errorf("read plan: %w", err)
	}
	if len(out) == 0 {
		return 0, fmt.Errorf("read plan: empty: %s", plan)
	}
	return out[0].Plan.Rows, nil
}

// rangeSQL are the statements of one relation's block walk.
type rangeSQL struct {
	// work deletes (or, dry, counts) the expired rows of one block range:
	// $1 the cutoff, $2 and $3 the first tid of the range and the first
	// after it, then the filter values. PostgreSQL 14 and later read the
	// range with a TID Range Scan.
	work string
	// prune reads the blocks [$1, $2) again: the server prunes the rows
	// deleted there (a TID range scan calls heap_page_prune_opt on every
	// page it reads), in lethe's session rather than in the application's
	// next query to visit them.
	prune string
}

// buildRange builds the statements of a block walk over rel.
func (t *target) buildRange(rel string, dry bool) rangeSQL {
	conds, _ := t.conditions(4)
	verb := "DELETE"
	if dry {
		verb = "SELECT count(*)"
	}
	return rangeSQL{
		work:  fmt.Sprintf("%s FROM %s WHERE ctid >= $2::tid AND ctid < $3::tid AND %s", verb, rel, conds),
		prune: fmt.Sprintf("SELECT count(*) FROM %s WHERE ctid >= $1::tid AND ctid < $2::tid", rel),
	}
}

// rangeWidth picks the number of blocks of the next range so that one
// statement takes about the target time. It models a statement as
// perBlock seconds for each block read plus perRow seconds for each row
// deleted, and learns both from the statements done. The next range is
// sized for the density of expired rows just seen, and at the same time so
// that even a range whose every row is expired stays within twice
// the target: a walk that comes from blocks with nothing to delete into
// blocks full of old rows takes one longer statement at the edge, not a
// runaway one.
type rangeWidth struct {
	target       float64 // seconds
	rowsPerBlock float64
	perBlock     float64 // seconds to read one block with nothing to delete
	perRow       float64 // seconds to delete one row, beyond reading it
	density      float64 // rows deleted per block by the last statement
	width        int64
}

// worstFactor bounds a range whose every row is expired, in targets.
const worstFactor = 2

func newRangeWidth(target time.Duration, rowsPerBlock float64) *rangeWidth {
	// Priors on the slow side (cold pages, three indexes): learnt away in
	// a few statements. The first range is sized as if all its rows were
	// expired.
	w := &rangeWidth{target: target.Seconds(), rowsPerBlock: rowsPerBlock, perBlock: 20e-6, perRow: 3e-6, density: rowsPerBlock}
	w.width = w.fit(1 << 30)
	return w
}

// fit is the width the model allows, at most limit.
func (w *rangeWidth) fit(limit int64) int64 {
	typical := w.target / (w.perBlock + w.density*w.perRow)
	worst := worstFactor * w.target / (w.perBlock + w.rowsPerBlock*w.perRow)
	return max(1, min(int64(min(typical, worst)), limit))
}

// observe learns from a statement over blocks blocks that deleted rows
// rows in el, and sets the next width: at most four times this one.
func (w *rangeWidth) observe(blocks, rows int64, el time.Duration) {
	t := el.Seconds()
	const alpha = 0.5
	if float64(rows) < 0.05*float64(blocks)*w.rowsPerBlock {
		w.perBlock = alpha*w.perBlock + (1-alpha)*t/float64(blocks)
	} else {
		// Reading the blocks took no longer than the whole statement: a
		// cost learnt before (or doubled by timeouts) that says more is
		// wrong, and dense ranges would never correct it otherwise.
		w.perBlock = min(w.perBlock, t/float64(blocks))
		w.perRow = alpha*w.perRow + (1-alpha)*max(t-float64(blocks)*w.perBlock, 0)/float64(rows)
	}
	if t > 2*w.target { // slower than the model said: trust the clock
		w.perRow *= t / w.target
	}
	w.capCosts()
	w.density = float64(rows) / float64(blocks)
	w.width = w.fit(4 * blocks)
}

// retarget aims the next ranges at target (the latency probe's pacing
// shortens it): the width follows at once when it shrinks, and grows back
// at most four times per range.
func (w *rangeWidth) retarget(target time.Duration) {
	if t := target.Seconds(); t != w.target {
		w.target = t
		w.width = w.fit(4 * w.width)
	}
}

// timedOut halves the width after a statement timeout.
func (w *rangeWidth) timedOut(blocks int64) {
	w.perRow *= 2
	w.perBlock *= 2
	w.capCosts()
	w.density = w.rowsPerBlock
	w.width = max(blocks/2, 1)
}

// capCosts bounds the learnt costs where the width is 1 block whatever
// the density: a block that takes the whole target to read, or whose rows,
// all expired, take it to delete. A higher cost would tell the model
// nothing more, and the factors of slow statements and timeouts would
// compound without end (to +Inf, the width then stuck at 1 for the rest
// of the walk however fast the statements come back); from the cap, a few
// fast statements bring the costs back.
func (w *rangeWidth) capCosts() {
	w.perBlock = min(w.perBlock, w.target)
	w.perRow = min(w.perRow, w.target/w.rowsPerBlock)
}

// walkBlocks deletes the expired rows of rel one block range at a time, in
// block order, each range its own short transaction. The walk starts
// where the last run's walk of rel stopped (walkpos.go), or at block 0,
// and goes up to the size read at its start, then once more over the
// blocks added while it ran: rows inserted meanwhile go there (and are
// deleted only if they are expired); then around from block 0 up to where
// it started. A row that an UPDATE moves into a block the walk has passed
// is left for the next run. A run that stops (budget, SIGTERM, lock
// trouble) records where, and the next one goes on from there; one killed
// goes on from the last recorded stop, or block 0.
func (j *Job) walkBlocks(ctx context.Context, r *jobs.Report, tr *tableRun, rel string, st relStats) error {
	sql := tr.t.buildRange(rel, j.s.DryRun())
	w := newRangeWidth(j.cfg.TargetBatchTime, st.rowsPerBlock())
	if j.s.DryRun() {
		_, err := j.walkRange(ctx, r, tr, sql, w, 0, st.blocks)
		return err
	}
	start := j.walkStart(ctx, tr, rel, st.blocks)
	if start > 0 {
		j.cfg.Logger.Debug("block walk goes on where the last run stopped", slog.String("table", tr.t.name()),
			slog.String("relation", rel), slog.Int64("from_block", start), slog.Int64("blocks", st.blocks))
	}
	next, err := j.walkRange(ctx, r, tr, sql, w, start, st.blocks)
	if err == nil {
		var now relStats
		if now, err = j.relStats(ctx, tr, rel); err != nil {
			return fmt.Errorf("retention %s: read size of %s: %w", tr.t.name(), rel, err)
		}
		if next, err = j.walkRange(ctx, r, tr, sql, w, st.blocks, now.blocks); err == nil && start > 0 {
			// Around: the blocks before the start, which earlier runs
			// walked with their (earlier) cutoffs.
			next, err = j.walkRange(ctx, r, tr, sql, w, 0, start)
		}
	}
	if err != nil {
		j.saveWalk(ctx, tr, rel, next)
		return err
	}
	j.clearWalk(ctx, tr, rel)
	return nil
}

// walkRange walks the blocks [from, to) of one relation. It returns the
// first block it did not walk: to when it walked them all.
//
// While the latency probe paces the run (the application is at work), each
// range first prunes the blocks of the range before it, if that one deleted
// rows (Config.SkipPrune): by then the application's transactions that
// could still see those rows have ended, which they need not have right
// after the commit.
func (j *Job) walkRange(ctx context.Context, r *jobs.Report, tr *tableRun, sql rangeSQL, w *rangeWidth, from, to int64) (int64, error) {
	lo := from
	var behind blockSpan // the last range, if it deleted rows
	for lo < to {
		if err := j.mustStop(ctx); err != nil {
			return lo, err
		}
		j.cfg.beforeBatch()
		w.retarget(pacedRange(j.s.PacedTarget(j.cfg.TargetBatchTime), j.cfg.TargetBatchTime, j.cfg.PacedRangeTime))
		hi := min(lo+w.width, to)
		prune := blockSpan{}
		if !j.cfg.SkipPrune && !j.s.DryRun() && j.s.Paced() {
			prune = behind
		}
		n, err := j.rangeWithRetry(ctx, tr, sql, w, lo, &hi, prune)
		if err != nil {
			return lo, err
		}
		if behind = (blockSpan{}); n > 0 {
			behind = blockSpan{lo, hi}
		}
		tr.pruned += prune.hi - prune.lo
		tr.deleted += n
		tr.blocks += hi - lo
		r.AddRows(tr.t.name(), "delete", n)
		lo = hi
		if err := j.pause(ctx); err != nil {
			return lo, err
		}
	}
	return lo, nil
}

// blockSpan is the blocks [lo, hi) of a relation; the zero value is empty.
type blockSpan struct{ lo, hi int64 }

// pacedRange is the time a block range aims at: paced, the target the
// latency probe's pacing gives (below target) but at most limit; unpaced,
// target.
func pacedRange(paced, target, limit time.Duration) time.Duration {
	if paced >= target {
		return target
	}
	return min(paced, limit)
}

// rangeWithRetry runs the statement of one range [lo, *hi), narrowing the
// range after a statement timeout and pausing after lock trouble.
// The prune of the blocks prune, if any, goes first in the range's
// transaction; the range's width model learns from the range's own
// statement only, the governor from the whole transaction.
func (j *Job) rangeWithRetry(ctx context.Context, tr *tableRun, sql rangeSQL, w *rangeWidth, lo int64, hi *int64, prune blockSpan) (int64, error) {
	lockTries := 0
	for {
		started := time.Now()
		n, pruneTime, err := j.rangeOnce(ctx, tr, sql, lo, *hi, prune)
		el := time.Since(started)
		if err == nil {
			tr.batches++
			tr.longest = max(tr.longest, el)
			w.observe(*hi-lo, n, el-pruneTime)
			j.s.ObserveBatch(el)
			j.cfg.Logger.Debug("range done", slog.String("table", tr.t.name()), slog.Int64("from_block", lo),
				slog.Int64("to_block", *hi), slog.Int64("rows", n), slog.Duration("duration", el),
				slog.Int64("pruned_blocks", prune.hi-prune.lo), slog.Duration("prune_duration", pruneTime), slog.Int64("next_width", w.width))
			return n, nil
		}
		switch {
		case statementTimedOut(ctx, err) && *hi-lo > 1:
			w.timedOut(*hi - lo)
			*hi = lo + w.width
			j.s.Report.Add(jobs.BatchesRetried, 1)
			j.cfg.Logger.Debug("range timed out, halved", slog.String("table", tr.t.name()), slog.Int64("width", w.width))
		case jobs.Retryable(err):
			if err := j.lockPause(ctx, tr, &lockTries, err); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("retention %s: block range: %w", tr.t.name(), err)
		}
	}
}

// rangeOnce runs one range in its own transaction, with a statement
// timeout of rangeTimeout: the one place where the job deliberately sets
// a timeout other than the session's, since a range the model sized wrong
// is cut short and halved (rangeWithRetry) instead of holding its row
// locks up to StatementTimeout.
//
// It first reads the blocks prune, if any (rangeSQL.prune), and returns
// how long that took.
func (j *Job) rangeOnce(ctx context.Context, tr *tableRun, sql rangeSQL, lo, hi int64, prune blockSpan) (n int64, pruneTime time.Duration, err error) {
	tx, err := j.s.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT set_config('statement_timeout', $1, true)", ms(j.rangeTimeout())); err != nil {
		return 0, 0, err
	}
	if prune.hi > prune.lo {
		started := time.Now()
		if _, err := tx.Exec(ctx, sql.prune, blockTID(prune.lo), blockTID(prune.hi)); err != nil {
			return 0, 0, err
		}
		pruneTime = time.Since(started)
	}
	args := append([]any{tr.cutoff, blockTID(lo), blockTID(hi)}, tr.t.filterArgs()...)
	if j.s.DryRun() {
		err = tx.QueryRow(ctx, sql.work, args...).Scan(&n)
		return n, 0, err
	}
	ct, err := tx.Exec(ctx, sql.work, args...)
	if err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, err
	}
	return ct.RowsAffected(), pruneTime, nil
}

// rangeTimeout bounds one range statement: ten times the target, within
// StatementTimeout. A range the model got wrong is cut short and halved
// instead of holding its row locks for long.
func (j *Job) rangeTimeout() time.Duration {
	return min(j.s.Limits.StatementTimeout, max(10*j.cfg.TargetBatchTime, time.Second))
}

// blockTID is the first tuple id of block b: (b,0), below every real
// tuple of the block.
func blockTID(b int64) pgtype.TID {
	return pgtype.TID{BlockNumber: uint32(b), OffsetNumber: 0, Valid: true}
}
