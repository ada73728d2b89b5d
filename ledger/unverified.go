package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Unverified is a subject of a committed batch whose verification has not
// run: its run was killed, or lost its connection, between the commit and
// the verification.
type Unverified struct {
	// BatchID is the batch that erased the subject.
	BatchID int64
	// Hash is the subject's keyed hash.
	Hash string
	// Key is the subject's key. Never log it.
	Key string
	// Row holds the subject row's columns that the erasers read.
	Row map[string]string
}

// OwedVerifications returns the unverified subjects of batches whose run
// is no longer running (call [CloseStaleRuns] first, as [BeginRun] does),
// in batch order; a running run verifies its own.
func OwedVerifications(ctx context.Context, pool *pgxpool.Pool) ([]Unverified, error) {
	rows, err := pool.Query(ctx, `SELECT u.batch_id, u.subject_hash, u.subject_key, u.row
		FROM lethe.unverified u JOIN lethe.batches b ON b.id = u.batch_id LEFT JOIN lethe.runs r ON r.id = b.run_id
		WHERE r.status IS DISTINCT FROM 'running' ORDER BY u.batch_id, u.subject_hash`)
	if err != nil {
		return nil, fmt.Errorf("read unverified receipts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Unverified, error) {
		var u Unverified
		err := row.Scan(&u.BatchID, &u.Hash, &u.Key, &u.Row)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("read unverified receipts: %w", err)
	}
	return out, nil
}

// markUnverifiableSQL closes the pending batches of finished runs that
// have no subjects left to verify: made before lethe kept them, their
// verification can no longer run.
const markUnverifiableSQL = `UPDATE lethe.batches b SET verification = 'not verified: its run ended before verification', verified_at = now()
	FROM lethe.runs r WHERE r.id = b.run_id AND r.status <> 'running' AND b.verification = 'pending'
	AND NOT EXISTS (SELECT 1 FROM lethe.unverified u WHERE u.batch_id = b.id)`

// MarkUnverifiable records, for the pending batches of finished runs that
// nothing is left to verify with, that they were not verified, and returns
// how many.
func MarkUnverifiable(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	tag, err := pool.Exec(ctx, markUnverifiableSQL)
	if err != nil {
		return 0, fmt.Errorf("close unverifiable receipts: %w", err)
	}
	return tag.RowsAffected(), nil
}
