package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
)

// Job is the retention job.
type Job struct {
	cfg Config

	// Set by Run.
	s        *jobs.Session
	maxBatch int
	pgVer    int
}

var _ jobs.Job = (*Job)(nil)

// The job's own counters, next to the shared ones (jobs.Batches, ...).
// Per-table counters are named "TABLE." followed by the counter's name.
const (
	// TablesSkipped counts the tables another run was working on.
	TablesSkipped jobs.Counter = "tables_skipped"
	// SkippedBusy is 1, per table, when another run held the table.
	SkippedBusy jobs.Counter = "skipped_busy"
	// PartitionsDropped counts the partitions detached and dropped.
	PartitionsDropped jobs.Counter = "partitions_dropped"
	// PartitionsLeft counts, per table, the partitions a run detached and
	// did not drop before its budget ran out or a stop came: no longer
	// part of the table, they keep their rows until the next run drops
	// them first. Their estimated rows (at least one each) are in
	// rows_left.
	PartitionsLeft jobs.Counter = "partitions_left"
	// BlockRangeWalks counts, per table, the relations walked in block
	// ranges rather than keyset batches.
	BlockRangeWalks jobs.Counter = "block_range_walks"
	// BlocksWalked counts, per table, the blocks its block ranges read.
	BlocksWalked jobs.Counter = "blocks_walked"
	// BlocksPruned counts, per table, the blocks read again, while the
	// run was paced, so that the rows deleted there are pruned in lethe's
	// session rather than in the application's.
	BlocksPruned jobs.Counter = "blocks_pruned"
	// LockRetries counts the partition statements retried after lock
	// trouble.
	LockRetries jobs.Counter = "lock_retries"
	// LongestPartitionDropMS is, per table, in milliseconds, the longest
	// a grouped detach held the parent's lock, or the longest concurrent
	// detach or drop.
	LongestPartitionDropMS jobs.Counter = "longest_partition_drop_ms"
)

// DefaultPacedShare is the retention's cap on its share of database time
// while the application works, when LETHE_MAX_DB_SHARE is not set: a
// fifth of the other jobs' (jobs.DefaultMaxShare). A block range empties
// whole pages, writing a full-page image for each, and the application's
// commits wait for the WAL flushes that carry them: beside the benchmark's
// load the load's p99 was 1.39x of the load alone at 0.02 (reads 1.08x),
// 3.29x at 0.1, at 35k against 174k rows/s (README, Benchmarks, R31).
const DefaultPacedShare = 0.02

// PacedShareCap is the retention's default cap on its share of database
// time while the application works (jobs.PacedShareCapper).
func (j *Job) PacedShareCap() float64 { return DefaultPacedShare }

var _ jobs.PacedShareCapper = (*Job)(nil)

// tableCounter is the name of counter c of one table.
func tableCounter(table string, c jobs.Counter) jobs.Counter {
	return jobs.Counter(table + "." + string(c))
}

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
// "TABLE.blocks_walked",
// "TABLE.partitions_dropped", "TABLE.longest_transaction_ms" and
// "TABLE.rows_left", with totals under the bare names.
func (j *Job) Run(ctx context.Context, s *jobs.Session) (err error) {
	cfg := &j.cfg
	j.s = s
	j.maxBatch = max(cfg.MaxBatchSize, s.Limits.BatchSize)
	if s.Limits.MaxBatchSize > s.Limits.BatchSize {
		j.maxBatch = s.Limits.MaxBatchSize // LETHE_MAX_BATCH_SIZE
	}
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
	// The budget is for the batches: it starts once the run is set up.
	if err := s.Start(ctx); err != nil {
		return err
	}
	j.sweepWalks(ctx)
	var errs []error
	for i, t := range targets {
		owner := s.Limits.Shard.OwnsIndex(i)
		if !owner && !t.table.Partitioned {
			continue // another shard's table
		}
		tr := &tableRun{owner: owner, t: t, cutoff: now.Add(-t.rule.Age()), sizer: s.NewSizer(s.Limits.BatchSize, j.maxBatch, cfg.TargetBatchTime)}
		err := j.runTable(ctx, tr)
		j.reportTable(ctx, s.Report, tr, err)
		if err != nil && !errors.Is(err, errLeft) {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// runTable does one rule under the table's advisory lock, so that a second
// run skips the table instead of doing the same work. With shards (see
// jobs.Shard), a plain table is one shard's (the rules are dealt out in
// policy order); a partitioned table is every shard's, each draining the
// partitions whose name hashes to it under a lock of its own, and only
// the table's owner detaching and dropping old partitions.
func (j *Job) runTable(ctx context.Context, tr *tableRun) error {
	if err := j.mustStop(ctx); err != nil {
		return err
	}
	lock := strconv.FormatUint(uint64(tr.t.table.OID), 10)
	if sh := j.s.Limits.Shard; sh.Sharded() && tr.t.table.Partitioned {
		// Each shard drains its own partitions of the table.
		lock += "/" + sh.String()
	}
	unlock, ok, err := j.s.TryLock(ctx, jobs.LockKey(j.Name(), lock))
	if err != nil {
		return fmt.Errorf("retention %s: %w", tr.t.name(), err)
	}
	r := j.s.Report
	if !ok {
		r.Add(TablesSkipped, 1)
		r.Set(tableCounter(tr.t.name(), SkippedBusy), 1)
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
// for, and ctx's error once it is cancelled (jobs.Session.Continue).
func (j *Job) mustStop(ctx context.Context) error {
	if j.s.Continue(ctx) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errLeft
}

// reportTable records one table's numbers and logs its line.
func (j *Job) reportTable(ctx context.Context, r *jobs.Report, tr *tableRun, err error) {
	name := tr.t.name()
	r.Add(tableCounter(name, jobs.Batches), tr.batches)
	r.Add(jobs.Batches, tr.batches)
	if tr.blocks > 0 {
		r.Add(tableCounter(name, BlocksWalked), tr.blocks)
		r.Add(BlocksWalked, tr.blocks)
	}
	if tr.pruned > 0 {
		r.Add(tableCounter(name, BlocksPruned), tr.pruned)
		r.Add(BlocksPruned, tr.pruned)
	}
	r.Add(tableCounter(name, PartitionsDropped), tr.dropped)
	r.Add(PartitionsDropped, tr.dropped)
	r.Max(tableCounter(name, jobs.LongestTransactionMS), tr.longest.Milliseconds())
	r.Max(jobs.LongestTransactionMS, tr.longest.Milliseconds())
	if tr.skipped {
		return // the run that holds the table reports it
	}
	left, overdue := int64(0), int64(0)
	if err != nil {
		var cerr error
		left, overdue, cerr = j.rowsLeft(context.WithoutCancel(ctx), tr)
		if cerr != nil {
			j.cfg.Logger.Warn("rows left not counted", slog.String("table", name), slog.String("error", pgerr.Redact(cerr).Error()))
			left, overdue = -1, -1
		}
	}
	if n := int64(len(tr.detachedLeft)); n > 0 {
		r.Set(tableCounter(name, PartitionsLeft), n)
		r.Add(PartitionsLeft, n)
		if left >= 0 {
			for _, p := range tr.detachedLeft {
				left += max(p.estRows, 1)
			}
		}
		// Their rows are all past the cutoff; how far is not read.
		overdue = max(overdue, 1)
	}
	r.Set(tableCounter(name, jobs.RowsLeft), left)
	if left > 0 {
		r.Add(jobs.RowsLeft, left)
	}
	if !j.s.DryRun() {
		r.Set(tableCounter(name, jobs.RowsOverdueSeconds), overdue)
		r.Max(jobs.RowsOverdueSeconds, overdue)
	}
	attrs := []any{slog.String("table", name), slog.Time("cutoff", tr.cutoff), slog.Int64("rows", tr.deleted),
		slog.Int64("partitions", tr.dropped), slog.Int64("batches", tr.batches), slog.Int64("rows_left", left),
		slog.Int("partitions_left", len(tr.detachedLeft)),
		slog.Int64("longest_transaction_ms", tr.longest.Milliseconds())}
	if err != nil && !errors.Is(err, errLeft) {
		j.cfg.Logger.Warn("table not done", append(attrs, slog.String("error", pgerr.Redact(err).Error()))...)
		return
	}
	j.cfg.Logger.Info("table done", attrs...)
}

// rowsLeft counts the rows of a table still older than the cutoff, and
// says how far past it, in seconds, the oldest of them is.
func (j *Job) rowsLeft(ctx context.Context, tr *tableRun) (n, overdue int64, err error) {
	q := tr.t.buildLeft(tr.t.table.Ident())
	args := append([]any{tr.cutoff}, tr.t.filterArgs()...)
	tx, err := j.s.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	err = tx.QueryRow(ctx, q, args...).Scan(&n, &overdue)
	return n, overdue, err
}

// Check implements jobs.Checker: the retention rules against the catalog.
func (j *Job) Check(ctx context.Context) error {
	_, err := resolve(ctx, j.cfg.Pool, j.cfg.Policy)
	return err
}

var _ jobs.Checker = (*Job)(nil)
