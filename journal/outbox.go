package journal

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/ledger"
)

// DefaultRetention is how long journal objects are kept when
// LETHE_JOURNAL_RETENTION is not set: 400 days, longer than the common
// backup schedules (daily for a month, monthly for a year). A backup older
// than the journal's retention can bring back subjects that replay no
// longer knows were erased, so the retention must exceed the age of the
// oldest backup that may ever be restored.
const DefaultRetention = 400 * 24 * time.Hour

// DefaultObjectSize is how many receipts the catch-up puts in one object.
const DefaultObjectSize = 1000

// Outbox copies committed receipts into the journal: a receipt is marked
// journaled only once the object holding it is confirmed, so a crash or an
// outage between the commit and the write leaves it for the next Flush.
// Two processes flushing the same receipts at once may both write them: a
// duplicate entry is harmless (replay erases a subject once).
type Outbox struct {
	// Pool is the application's database, where the receipts are.
	Pool *pgxpool.Pool
	// Journal is where they go.
	Journal *Journal
	// Retention is how long objects are kept; 0 keeps them forever.
	Retention time.Duration
	// ObjectSize is the most receipts per object when catching up; 0
	// means DefaultObjectSize.
	ObjectSize int
}

// Flush journals the unjournaled receipts of batch batchID in one object,
// or with batchID 0 every unjournaled receipt, oldest first, in objects of
// ObjectSize. It returns how many receipts it journaled.
func (o *Outbox) Flush(ctx context.Context, batchID int64) (int, error) {
	size := o.ObjectSize
	if size <= 0 {
		size = DefaultObjectSize
	}
	if batchID != 0 {
		size = 1 << 30 // a batch is bounded by the batch size
	}
	total := 0
	for {
		rs, err := ledger.UnjournaledReceipts(ctx, o.Pool, batchID, size)
		if err != nil || len(rs) == 0 {
			return total, err
		}
		entries := make([]Entry, len(rs))
		ids := make([]int64, len(rs))
		for i, u := range rs {
			ids[i] = u.ID
			entries[i] = EntryOf(u.Receipt, u.KeyFingerprint)
		}
		if _, err := o.Journal.Append(ctx, entries); err != nil {
			return total, err
		}
		if err := ledger.MarkJournaled(ctx, o.Pool, ids); err != nil {
			return total, err
		}
		total += len(rs)
		if batchID != 0 || len(rs) < size {
			return total, nil
		}
	}
}

// EntryOf is the journal entry of a receipt made with the key whose
// fingerprint is keyID.
func EntryOf(r ledger.Receipt, keyID string) Entry {
	e := Entry{
		V: formatVersion, SubjectHash: r.SubjectHash, KeyID: keyID, ErasedAt: r.PurgedAt.UTC(),
		RequestedAt: r.RequestedAt, RunID: r.RunID, PolicySHA256: r.PolicyDigest,
		Rows: r.Rows, Objects: r.Objects, Processors: r.Processors,
	}
	if e.RequestedAt != nil {
		t := e.RequestedAt.UTC()
		e.RequestedAt = &t
	}
	return e
}

// Backlog returns how many receipts are not journaled yet and the age in
// seconds of the oldest.
func (o *Outbox) Backlog(ctx context.Context) (int64, float64, error) {
	return ledger.JournalBacklog(ctx, o.Pool)
}

// Prune removes the journal objects older than Retention and returns how
// many; with Retention 0 it removes nothing.
func (o *Outbox) Prune(ctx context.Context, now time.Time) (int, error) {
	if o.Retention <= 0 {
		return 0, nil
	}
	n, err := o.Journal.Prune(ctx, now.Add(-o.Retention))
	if err != nil {
		return n, fmt.Errorf("journal retention: %w", err)
	}
	return n, nil
}
