package retention

import (
	"time"

	"github.com/lethe-project/lethe/jobs"
)

// Config is what the retention job needs besides the run's limits, which
// come from its jobs.Session (batch size, time budget, timeouts, dry run,
// stop, clock). The zero values of the numeric fields take the defaults
// below.
type Config struct {
	// Deps are the process's pool, policy, logger, hasher and object
	// router, built once by main; Pool and Policy are required.
	jobs.Deps

	// MaxBatchSize caps the adaptive batch size. Default 20000, and never
	// below the run's BatchSize.
	MaxBatchSize int
	// TargetBatchTime is the batch duration the adaptive size aims for: a
	// keyset batch faster than this doubles the next one, one slower than
	// four times this halves it, and a statement timeout halves it and
	// retries. Block ranges are sized to take about this long, and each
	// range statement times out after ten times this (at least 1s, at most
	// StatementTimeout), then is halved and retried. Default 250ms.
	TargetBatchTime time.Duration
	// BlockRangeFraction is the share of a table's rows, as the planner
	// estimates it, that must be expired for the job to walk the table in
	// block ranges (one sequential read of the whole heap) rather than in
	// keyset batches over the (column, key) index (which read only the
	// expired rows). A table with no index that starts with the column is
	// always walked in block ranges. Default 0.1 (10%, about where the two
	// cost the same in the benchmark, docs/retention.md); above 1 means
	// never (except without an index).
	BlockRangeFraction float64
	// PacedRangeTime bounds the time a block range aims at while the
	// latency probe paces the run (the application is at work): each
	// range statement writes its WAL (a full-page image for nearly every
	// block it empties) before its COMMIT flushes it, and the
	// application's commits, and its reads that evict a block the range
	// dirtied, wait to flush that WAL too; short ranges keep that wait
	// short at the same share of database time. Default 20ms.
	PacedRangeTime time.Duration
	// SkipPrune leaves the rows a block range deleted for the
	// application's next query to visit them, or VACUUM, to prune. By
	// default, while the latency probe paces the run, each range first
	// reads the blocks of the range before it, so that the server prunes
	// them in lethe's session: otherwise the application's reads pay for
	// it (README, Benchmarks, R30: a modest part of their tail). The
	// benchmark's baseline sets it.
	SkipPrune bool
	// Pause is slept between two batches, to leave the server's I/O to the
	// application. Default 0 (no pause).
	Pause time.Duration
	// LockRetries is how many times a batch or a partition detach that hit
	// lock_timeout (or a deadlock) is tried again, with the shared growing
	// pause (jobs.Backoff), before the table is left for the next run.
	// Default 5.
	LockRetries int
	// AsOf, when not zero, replaces the database's now() as the moment the
	// cutoffs are computed from. Tests use it to put rows exactly at the
	// cutoff; production runs leave it zero.
	AsOf time.Time

	// hooks are set by tests only (export_test.go), to run code at fixed
	// points of a run without depending on the machine's speed. The time
	// budget is driven by the clock of the run's limits instead.
	hooks testHooks
}

// DefaultPacedRangeTime is Config.PacedRangeTime's default.
const DefaultPacedRangeTime = 20 * time.Millisecond

// testHooks lets tests run code at fixed points of a run. Production runs
// leave them nil.
type testHooks struct {
	// beforeBatch is called before each keyset batch and each block range.
	beforeBatch func()
	// lockRetry is called after a partition statement did not get its
	// lock, before its retry.
	lockRetry func()
	// parentBusy is called after a NOWAIT request for a parent's lock
	// was refused, before the next.
	parentBusy func()
	// beforeDDL is called before each partition transaction that marks,
	// detaches (grouped) or drops, and ddlDone after each, with how long
	// it took (as the governor is told).
	beforeDDL func()
	ddlDone   func(time.Duration)
}

// beforeBatch runs the test hook, if any, before a batch or block range.
func (c *Config) beforeBatch() {
	if c.hooks.beforeBatch != nil {
		c.hooks.beforeBatch()
	}
}

// beforeDDL runs the test hook, if any, before a partition transaction.
func (c *Config) beforeDDL() {
	if c.hooks.beforeDDL != nil {
		c.hooks.beforeDDL()
	}
}

func (c *Config) setDefaults() error {
	if err := c.Deps.Require("retention"); err != nil {
		return err
	}
	if c.MaxBatchSize <= 0 {
		c.MaxBatchSize = 20000
	}
	if c.TargetBatchTime <= 0 {
		c.TargetBatchTime = 250 * time.Millisecond
	}
	if c.PacedRangeTime <= 0 {
		c.PacedRangeTime = DefaultPacedRangeTime
	}
	if c.BlockRangeFraction <= 0 {
		c.BlockRangeFraction = 0.1
	}
	if c.LockRetries <= 0 {
		c.LockRetries = 5
	}
	return nil
}
