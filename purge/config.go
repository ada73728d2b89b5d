package purge

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/plan"
)

// Config is everything the purge job needs besides the limits every job
// shares (batch size, time budget, timeouts, the blast-radius guard, dry
// run and stop), which come with the run's jobs.Session. The zero values of
// the numeric fields take the defaults below.
type Config struct {
	// Deps are the process's pool, policy, logger, hasher and object
	// router, built once by main; Pool and Policy are required.
	jobs.Deps

	// Workers is the number of batches in flight at once, each on its own
	// connection; SKIP LOCKED keeps them apart. Default 2.
	Workers int
	// Erasers remove each subject's data outside the database before its
	// rows go; see Eraser.
	Erasers []Eraser
	// Journal, when set, copies each committed batch's receipts to the
	// erasure journal after the commit, and each run first catches up the
	// receipts earlier runs could not journal.
	Journal Journal
	// ProgressEvery is how often a long run logs its progress. Default 10s.
	ProgressEvery time.Duration
	// PacedBatchTime bounds the transaction time a batch aims at while
	// the latency probe paces the run (the application is at work), below
	// the pacing's own target (the target batch time times lethe's share
	// of database time: 125-250ms). A batch's statements hold a core of
	// the database while they run; the application's transactions that
	// meet them wait, so shorter batches at the same share leave the
	// application's slowest transactions shorter. It is for the default
	// target batch time (jobs.DefaultTargetBatchTime, 500ms) and scales
	// with the run's Limits.TargetBatchTime. Default 10ms
	// (DefaultPacedBatchTime).
	PacedBatchTime time.Duration
	// PacedParallel lets the workers' batches run side by side while the
	// latency probe paces the run, as they do unpaced. By default a paced
	// run has one batch in flight at a time (with its verification; see
	// jobs.Session.PacedTurn); the benchmark compares the two.
	PacedParallel bool
}

// DefaultPacedBatchTime is Config.PacedBatchTime's default. Measured
// beside an OLTP load on 2 cores (README, Benchmarks): 10ms and 20ms both
// brought the load's p99 from 1.8x to about 1.5x of the load alone, 10ms
// the lower of the two (1.48x against 1.57x) at 0.75x the rate.
const DefaultPacedBatchTime = 10 * time.Millisecond

func (c *Config) setDefaults() error {
	if err := c.Deps.Require("purge"); err != nil {
		return err
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.PacedBatchTime <= 0 {
		c.PacedBatchTime = DefaultPacedBatchTime
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 10 * time.Second
	}
	return nil
}

// Subject is one subject in a batch, as the erasers see it.
type Subject struct {
	// Key is the subject's key as text. Never log it.
	Key string
	// Hash is its keyed hash: the only form that may be logged.
	Hash string
	// Row holds the subject row's columns as text, for URL templates and
	// object locations; read before the row goes.
	Row map[string]string

	// pseudonym is the suffix the policy's pseudonyms end with.
	pseudonym string
}

// Outcome is what an eraser did for one subject.
type Outcome struct {
	// Err is non-nil when the subject's outside data is not all gone; the
	// subject's rows then stay untouched until a later run.
	Err error
	// Objects counts object versions removed per location.
	Objects map[string][2]int64
	// Confirmed lists processors that confirmed the erasure.
	Confirmed []string
	// Archives counts, per location template, the export archives erased,
	// each with every version (their versions and bytes are in Objects).
	Archives map[string]int64
	// Exports are the ids of the subject's lethe.exports rows whose
	// archives were erased; the batch records them as expired.
	Exports []string
}

// Batch is what an eraser gets: the subjects, and the batch's open
// transaction (which holds their row locks) for reading what the policy's
// tables say about them before their rows go.
type Batch struct {
	// Subjects are the batch's subjects.
	Subjects []Subject
	// Tx is the batch's transaction; read only, never commit it.
	Tx pgx.Tx
	// Plan is the checked policy, for Step.ValuesSQL.
	Plan *plan.Plan
	// Keys and Pseudonyms are the $1 and $2 arguments of plan statements,
	// in Subjects order.
	Keys, Pseudonyms []string
	// DryRun is true when nothing may be changed.
	DryRun bool
}

// Eraser removes subjects' data outside the database. It is called while
// the batch holds the subjects' row locks, before their rows are touched,
// and must be idempotent: a subject whose rows stay is retried next run.
type Eraser interface {
	// Name names the eraser in logs.
	Name() string
	// Columns lists the subject-table columns the eraser needs in
	// Subject.Row.
	Columns() []string
	// Erase erases each subject of the batch and returns one outcome per
	// subject, in order. With b.DryRun erasers only check and count.
	Erase(ctx context.Context, b *Batch) []Outcome
	// Verify runs after the batch committed and returns, per subject in
	// order, nil when nothing of the subject remains outside the database,
	// or what remains.
	Verify(ctx context.Context, subjects []Subject) []error
}
