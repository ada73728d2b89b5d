package purge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/ledger"
)

// Replayed is a subject that the erasure journal says was erased, found
// again in a restored database.
type Replayed struct {
	// Key is the subject's key as text. Never log it.
	Key string
	// ErasedAt is when the journal says the subject was first erased: its
	// restored receipt keeps that time.
	ErasedAt time.Time
}

// replaySet hands the subjects to re-erase to the workers, a batch at a
// time.
type replaySet struct {
	mu       sync.Mutex
	keys     []string
	next     int
	erasedAt map[string]time.Time
}

// take returns the next n keys; none when all were taken.
func (r *replaySet) take(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := min(r.next+n, len(r.keys))
	out := r.keys[r.next:end]
	r.next = end
	return out
}

func (r *replaySet) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next >= len(r.keys)
}

// NewReplay returns a job that re-erases subjects after a database
// restore (lethe replay): the same batches as the purge and lethe erase
// (erasers for objects and processors, the policy's steps, receipts,
// verification), without grace period nor blast-radius guard (the journal
// already holds these erasures), and never a subject on hold. Each restored
// receipt is marked replayed and keeps its original erasure time.
func NewReplay(cfg Config, subjects []Replayed) (*Job, error) {
	j, err := New(cfg)
	if err != nil {
		return nil, err
	}
	rs := &replaySet{erasedAt: make(map[string]time.Time, len(subjects))}
	for _, s := range subjects {
		if _, dup := rs.erasedAt[s.Key]; dup {
			continue
		}
		rs.keys = append(rs.keys, s.Key)
		rs.erasedAt[s.Key] = s.ErasedAt
	}
	j.replay = rs
	return j, nil
}

// markReplayed gives the batch's new receipts their original erasure
// times, in the batch's transaction.
func (r *replaySet) markReplayed(ctx context.Context, tx pgx.Tx, batchID int64, keys, hashes []string) error {
	times := make([]time.Time, len(keys))
	for i, k := range keys {
		times[i] = r.erasedAt[k]
	}
	if _, err := tx.Exec(ctx, ledger.ReplayedReceiptsSQL, batchID, hashes, times); err != nil {
		return fmt.Errorf("replay batch: restore receipts: %w", err)
	}
	return nil
}
