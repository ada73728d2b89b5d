package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lethe-project/lethe/jobs"
)

// Journal copies committed receipts outside the database, so that a
// restore of the database cannot make lethe forget its erasures; package
// journal's Outbox is the one lethe uses.
type Journal interface {
	// Flush journals the unjournaled receipts of a batch, or with batch 0
	// all of them, and marks them journaled once confirmed.
	Flush(ctx context.Context, batchID int64) (int, error)
	// Backlog returns how many receipts are not journaled and the age in
	// seconds of the oldest.
	Backlog(ctx context.Context) (int64, float64, error)
	// Prune removes the journal's objects past its retention.
	Prune(ctx context.Context, now time.Time) (int, error)
}

// The purge's journal counters and gauges.
const (
	// ReceiptsJournaled counts the receipts this run copied to the journal.
	ReceiptsJournaled jobs.Counter = "receipts_journaled"
	// JournalObjectsPruned counts the journal objects removed as past
	// the journal's retention.
	JournalObjectsPruned jobs.Counter = "journal_objects_pruned"
)

// JournalError says that receipts committed but could not be journaled:
// the erasures stand, and the next run journals them.
type JournalError struct{ Err error }

func (e *JournalError) Error() string {
	return fmt.Sprintf("erasure journal: %v (the erasures are committed; the next run journals them)", e.Err)
}

func (e *JournalError) Unwrap() error { return e.Err }

// journalState remembers the run's first journal failure: after it the
// run erases on, but stops trying the journal, and fails at its end.
type journalState struct {
	mu  sync.Mutex
	err error
}

func (st *journalState) failed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err != nil
}

// journal flushes batch (0: the backlog) unless the run has no journal, is
// dry, replays (its receipts come from the journal) or already failed to
// journal.
func (j *Job) journal(ctx context.Context, s *jobs.Session, batch int64) {
	if j.cfg.Journal == nil || s.DryRun() || j.replay != nil || j.jstate.failed() {
		return
	}
	n, err := j.cfg.Journal.Flush(ctx, batch)
	s.Report.Add(ReceiptsJournaled, int64(n))
	if err != nil {
		j.jstate.mu.Lock()
		if j.jstate.err == nil {
			j.jstate.err = err
		}
		j.jstate.mu.Unlock()
		j.cfg.Logger.Error("erasure journal unavailable: receipts stay in the outbox", slog.String("error", err.Error()))
	}
}

// journalStart catches up the receipts earlier runs could not journal and
// applies the journal's retention.
func (j *Job) journalStart(ctx context.Context, s *jobs.Session) {
	j.journal(ctx, s, 0)
	if j.cfg.Journal == nil || s.DryRun() || j.jstate.failed() || j.one != nil || j.replay != nil {
		return
	}
	n, err := j.cfg.Journal.Prune(ctx, s.Limits.Now())
	s.Report.Add(JournalObjectsPruned, int64(n))
	if err != nil {
		// Keeping objects longer is safe: say so, fail nothing.
		j.cfg.Logger.Warn("erasure journal retention", slog.String("error", err.Error()))
	}
}

// journalEnd reports the outbox's backlog and returns the run's journal
// failure.
func (j *Job) journalEnd(ctx context.Context, s *jobs.Session) error {
	if j.cfg.Journal == nil || s.DryRun() {
		return nil
	}
	n, age, err := j.cfg.Journal.Backlog(context.WithoutCancel(ctx))
	if err == nil {
		s.Report.SetGauge(jobs.UnjournaledReceipts, float64(n))
		s.Report.SetGauge(jobs.OldestUnjournaledSeconds, age)
	}
	j.jstate.mu.Lock()
	defer j.jstate.mu.Unlock()
	if j.jstate.err != nil {
		return &JournalError{Err: j.jstate.err}
	}
	return errors.Join(err)
}
