package jobs

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Limits are the settings every job shares: how much one transaction and
// one run may do, and what a run may not do without AllowLarge. Each job's
// Config embeds them; zero values take the defaults of SetDefaults.
type Limits struct {
	// BatchSize is how much one transaction takes on: subjects for purge
	// and inactivity, organizations or invitations for orphans, the first
	// batch's rows for retention (which then adapts). Default 500.
	BatchSize int
	// TimeBudget stops a run from starting new batches after this long;
	// the next run carries on. Default 10 minutes.
	TimeBudget time.Duration
	// StatementTimeout bounds each statement (statement_timeout).
	// Default 30s.
	StatementTimeout time.Duration
	// LockTimeout bounds each lock wait (lock_timeout), so that a job never
	// queues long in front of the application's queries. Default 5s.
	LockTimeout time.Duration
	// MaxSubjects is the blast-radius guard: a run refuses (exit 3) to
	// act on more subjects, organizations, invitations or prefixes than
	// this, unless AllowLarge. Default 10000. Retention has no guard.
	MaxSubjects int
	// MaxShare is the blast-radius guard as a share (0 to 1] of all
	// subjects (or organizations, invitations, prefixes); each job says
	// from how many it applies. Default 0.25.
	MaxShare float64
	// AllowLarge disables the blast-radius guard for this run.
	AllowLarge bool
	// DryRun makes the run count what it would do, in read-only
	// transactions, and change nothing.
	DryRun bool
	// ExecuteDryRun, with DryRun, makes the dry run's transactions
	// read-write: a job that supports it (the purge) executes every
	// statement of a batch and rolls the transaction back, so that its
	// counts are the real run's and no constraint surprises a real run.
	ExecuteDryRun bool
	// Stop, when done, stops the run from starting new batches (a first
	// SIGTERM); cancelling the context passed to Run aborts the batch in
	// flight instead (it rolls back).
	Stop context.Context
	// Clock tells the time and pauses; nil is the real clock. Tests set
	// a fake one to drive budgets and retries without depending on speed.
	Clock Clock
	// TargetBatchTime is the transaction time the adaptive batch size
	// aims for (see Sizer). Default 500ms (DefaultTargetBatchTime).
	TargetBatchTime time.Duration
	// MaxBatchSize caps the adaptive batch size. Default BatchSize: the
	// size then only shrinks below BatchSize while transactions are slow,
	// and grows back. Retention has its own, larger default.
	MaxBatchSize int
	// Governor holds the database health thresholds checked before each
	// batch.
	Governor Governor
	// Shard is this process's share of the work when several run the
	// same job at once; the zero value does it all. Retention and orphans
	// split by it; purge and inactivity need not (SKIP LOCKED).
	Shard Shard
}

// SetDefaults fills the zero fields with their defaults.
func (l *Limits) SetDefaults() {
	if l.BatchSize <= 0 {
		l.BatchSize = 500
	}
	if l.TimeBudget <= 0 {
		l.TimeBudget = 10 * time.Minute
	}
	if l.StatementTimeout <= 0 {
		l.StatementTimeout = 30 * time.Second
	}
	if l.LockTimeout <= 0 {
		l.LockTimeout = 5 * time.Second
	}
	if l.MaxSubjects <= 0 {
		l.MaxSubjects = 10000
	}
	if l.MaxShare <= 0 || l.MaxShare > 1 {
		l.MaxShare = 0.25
	}
	if l.Stop == nil {
		l.Stop = context.Background()
	}
	if l.Clock == nil {
		l.Clock = realClock{}
	}
	if l.TargetBatchTime <= 0 {
		l.TargetBatchTime = DefaultTargetBatchTime
	}
	if l.MaxBatchSize < l.BatchSize {
		l.MaxBatchSize = l.BatchSize
	}
	l.Governor.setDefaults()
}

// NearlyAll is the share of all subjects (or organizations, invitations,
// prefixes) that no run may act on without AllowLarge, however few there
// are, once at least two would go: on a database of 3 users a purge may
// erase 2, never all 3. LETHE_MAX_SHARE above it raises it.
const NearlyAll = 0.9

// GuardTotalCap is how far a job must count the total for Guard to decide
// about n with minForShare: Guard's verdict with the total counted up to
// the cap (min(total, cap)) is its verdict with the whole total, so a job
// need not read every subject to check a few. 0: no total is needed
// (AllowLarge, n above MaxSubjects, or too few to trip a share).
// Limits with their defaults set: MaxShare is in (0, 1].
func (l Limits) GuardTotalCap(n, minForShare int64) int64 {
	if l.AllowLarge || n > int64(l.MaxSubjects) || n < 1 || n < 2 && n < minForShare {
		return 0
	}
	share := max(NearlyAll, l.MaxShare)
	if n >= minForShare {
		share = min(share, l.MaxShare)
	}
	// Guard trips when n > share*total, that is below n/share subjects.
	return int64(math.Floor(float64(n)/share)) + 1
}

// Guard is the blast-radius check: it refuses with a *GuardError when n of
// total things (what) is more than MaxSubjects, more than MaxShare of total
// once n reaches minForShare, or, at every size, at least 2 and more than
// NearlyAll (or MaxShare, if larger) of total. hint says what to check
// first. It passes everything with AllowLarge.
func (l Limits) Guard(what string, n, total, minForShare int64, hint string) error {
	if l.AllowLarge {
		return nil
	}
	if n > int64(l.MaxSubjects) {
		return &GuardError{Reason: fmt.Sprintf("%d %s, more than LETHE_MAX_SUBJECTS=%d; %s, then rerun with --allow-large if this is intended",
			n, what, l.MaxSubjects, hint)}
	}
	pct := 100 * float64(n) / float64(max(total, 1))
	if n >= minForShare && float64(n) > l.MaxShare*float64(total) {
		return &GuardError{Reason: fmt.Sprintf("%d of %d %s (%.0f%%), more than LETHE_MAX_SHARE=%.0f%%; %s, then rerun with --allow-large if this is intended",
			n, total, what, pct, 100*l.MaxShare, hint)}
	}
	if nearly := max(NearlyAll, l.MaxShare); n >= 2 && float64(n) > nearly*float64(total) {
		return &GuardError{Reason: fmt.Sprintf("%d of %d %s (%.0f%%): nearly all of them, more than %.0f%%; %s, then rerun with --allow-large if this is intended",
			n, total, what, pct, 100*nearly, hint)}
	}
	return nil
}
