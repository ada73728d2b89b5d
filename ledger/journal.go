package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Unjournaled is a committed receipt not yet copied to the erasure
// journal, with the fingerprint of the key its run hashed with.
type Unjournaled struct {
	// ID is the receipt's row id.
	ID int64
	// Receipt is the receipt as lethe receipt shows it (verification
	// aside).
	Receipt Receipt
	// KeyFingerprint is the run's hash key fingerprint; empty when the run
	// recorded none.
	KeyFingerprint string
}

// unjournaledSQL reads up to $2 unjournaled receipts, oldest first, of
// batch $1 (0: of any batch).
const unjournaledSQL = `SELECT r.id, r.subject_hash, COALESCE(r.run_id, 0), r.requested_at, r.purged_at, r.policy_digest,
	r.rows, r.objects, r.processors, COALESCE(u.key_fingerprint, '')
	FROM lethe.receipts r LEFT JOIN lethe.runs u ON u.id = r.run_id
	WHERE r.journaled_at IS NULL AND ($1::bigint = 0 OR r.batch_id = $1)
	ORDER BY r.id LIMIT $2`

// UnjournaledReceipts returns up to limit receipts of batch batchID (0:
// of any batch, oldest first) that are not journaled yet.
func UnjournaledReceipts(ctx context.Context, pool *pgxpool.Pool, batchID int64, limit int) ([]Unjournaled, error) {
	rows, err := pool.Query(ctx, unjournaledSQL, batchID, limit)
	if err != nil {
		return nil, fmt.Errorf("read unjournaled receipts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Unjournaled, error) {
		var u Unjournaled
		r := &u.Receipt
		var rws, objs, procs []byte
		if err := row.Scan(&u.ID, &r.SubjectHash, &r.RunID, &r.RequestedAt, &r.PurgedAt, &r.PolicyDigest, &rws, &objs, &procs, &u.KeyFingerprint); err != nil {
			return u, err
		}
		return u, errors.Join(json.Unmarshal(rws, &r.Rows), json.Unmarshal(objs, &r.Objects), json.Unmarshal(procs, &r.Processors))
	})
	if err != nil {
		return nil, fmt.Errorf("read unjournaled receipts: %w", err)
	}
	return out, nil
}

// MarkJournaled records that the receipts ids are in the journal.
func MarkJournaled(ctx context.Context, pool *pgxpool.Pool, ids []int64) error {
	if _, err := pool.Exec(ctx, `UPDATE lethe.receipts SET journaled_at = now() WHERE id = ANY($1) AND journaled_at IS NULL`, ids); err != nil {
		return fmt.Errorf("mark receipts journaled: %w", err)
	}
	return nil
}

// JournalBacklog returns how many receipts are not journaled yet and how
// long ago, in seconds, the oldest of them committed (0 when none).
func JournalBacklog(ctx context.Context, pool *pgxpool.Pool) (int64, float64, error) {
	var n int64
	var age float64
	err := pool.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(epoch FROM now() - min(purged_at)), 0)::float8
		FROM lethe.receipts WHERE journaled_at IS NULL`).Scan(&n, &age)
	if err != nil {
		return 0, 0, fmt.Errorf("count unjournaled receipts: %w", err)
	}
	return n, age, nil
}

// ReplayedReceiptsSQL, in a replay's batch transaction after
// InsertReceiptsSQL, gives the batch $1's new receipts of the hashes $2 the
// original erasure times $3, marks them replayed, and journaled: they came
// from the journal.
const ReplayedReceiptsSQL = `UPDATE lethe.receipts r SET purged_at = x.t, replayed_at = now(), journaled_at = now()
	FROM unnest($2::text[], $3::timestamptz[]) AS x(h, t) WHERE r.batch_id = $1 AND r.subject_hash = x.h`
