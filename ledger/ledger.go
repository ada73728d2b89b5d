package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Receipt shows that one subject was erased. It holds no personal data.
type Receipt struct {
	// SubjectHash is the keyed hash of the subject's key.
	SubjectHash string `json:"subject_hash"`
	// RunID is the run that erased the subject.
	RunID int64 `json:"run_id,omitempty"`
	// RequestedAt is when deletion was requested (nil for a one-off
	// erasure of a subject that never asked).
	RequestedAt *time.Time `json:"requested_at,omitempty"`
	// PurgedAt is when the erasure committed.
	PurgedAt time.Time `json:"purged_at"`
	// PolicyDigest is the SHA-256 of the policy file used.
	PolicyDigest string `json:"policy_digest"`
	// Rows lists per table and action the rows touched.
	Rows []RowCount `json:"rows"`
	// Objects lists per location the objects removed.
	Objects []ObjectCount `json:"objects"`
	// Processors lists the external processors that confirmed.
	Processors []string `json:"processors"`
	// Verification is pending, passed, or failed: with the reason.
	Verification string `json:"verification"`
	// VerifiedAt is when verification ran.
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
	// Searched lists where verification looked for the subject's key or
	// identifying values (table.column, no values).
	Searched []string `json:"searched,omitempty"`
}

// RowCount is the number of rows one step touched.
type RowCount struct {
	// Table is the table's name.
	Table string `json:"table"`
	// Action is delete, anonymize, keep or cascade.
	Action string `json:"action"`
	// Rows is the count.
	Rows int64 `json:"rows"`
}

// ObjectCount is the number of objects removed at one location.
type ObjectCount struct {
	// Location is the location template (no key in it).
	Location string `json:"location"`
	// Objects counts object versions and delete markers removed.
	Objects int64 `json:"objects"`
	// Bytes is their total size.
	Bytes int64 `json:"bytes"`
	// Archives is, at the export job's export.to, how many of the
	// subject's export archives were erased (each with every version);
	// 0 elsewhere.
	Archives int64 `json:"archives,omitempty"`
}

// ExportsLock is the advisory lock that keeps the export job from
// recording access requests in lethe.exports while a purge batch clears
// its subjects' keys there and commits: the export job takes it
// exclusive (and records nothing this run when it cannot), each purge
// batch takes it shared from that clearing to its commit. Without it, a
// request recorded in between, from a snapshot that still had the
// subject, would keep an erased subject's key.
const ExportsLock int64 = 0x6c657468650d // "lethe" 13

// InsertReceiptsSQL records a batch, writes its receipts from parallel
// arrays and lists its subjects as unverified ($9 keys, $10 their subject
// rows' columns that verification needs, as JSON objects), returning the
// batch's id; it runs inside the batch's transaction so that a receipt
// exists exactly when the erasure committed, and verification is owed
// until it ran. A receipt's rows, objects and processors are 1-based
// indexes ($6, $7, $8) into the batch's distinct JSON documents ($5):
// subjects of a batch mostly share them, and each is parsed once.
const InsertReceiptsSQL = `WITH b AS (INSERT INTO lethe.batches (run_id) VALUES ($2) RETURNING id),
r AS (INSERT INTO lethe.receipts
	(subject_hash, run_id, requested_at, policy_digest, rows, objects, processors, batch_id)
	SELECT x.h, $2, x.r, $3, ($5::jsonb[])[x.rw], ($5::jsonb[])[x.o], ($5::jsonb[])[x.p], b.id
	FROM b, unnest($1::text[], $4::timestamptz[], $6::int4[], $7::int4[], $8::int4[]) AS x(h, r, rw, o, p)),
u AS (INSERT INTO lethe.unverified (batch_id, subject_hash, subject_key, row)
	SELECT b.id, x.h, x.k, x.row FROM b, unnest($1::text[], $9::text[], $10::jsonb[]) AS x(h, k, row))
SELECT id FROM b`

// SetVerificationSQL records that a subject failed verification; $1 hash,
// $2 batch id, $3 what was found.
const SetVerificationSQL = `UPDATE lethe.receipts SET verification = $3, verified_at = now()
	WHERE subject_hash = $1 AND batch_id = $2`

// SetBatchVerificationSQL records a batch's verification; $1 batch id, $2
// passed or failed: N subject(s). Receipts without a result of their own
// take their batch's.
const SetBatchVerificationSQL = `UPDATE lethe.batches SET verification = $2, verified_at = now() WHERE id = $1`

// SetBatchSearchedSQL records where a batch's verification searched; $1
// batch id, $2 the places (table.column, no values).
const SetBatchSearchedSQL = `UPDATE lethe.batches SET searched = $2 WHERE id = $1`

// DoneVerifyingSQL forgets the keys of a verified batch ($1); sent in the
// same pipeline (one implicit transaction) as its results.
const DoneVerifyingSQL = `DELETE FROM lethe.unverified WHERE batch_id = $1`

// ReceiptsFor returns the receipts of a subject by its keyed hash, newest
// first. It returns no error and no receipts when the lethe schema does not
// exist yet.
func ReceiptsFor(ctx context.Context, pool *pgxpool.Pool, hash string) ([]Receipt, error) {
	rows, err := pool.Query(ctx, `SELECT r.subject_hash, COALESCE(r.run_id, 0), r.requested_at, r.purged_at, r.policy_digest,
		r.rows, r.objects, r.processors,
		CASE WHEN r.verification <> 'pending' OR b.id IS NULL THEN r.verification
		     WHEN b.verification LIKE 'failed%' THEN 'passed' ELSE b.verification END,
		COALESCE(r.verified_at, b.verified_at), COALESCE(b.searched, '{}')
		FROM lethe.receipts r LEFT JOIN lethe.batches b ON b.id = r.batch_id
		WHERE r.subject_hash = $1 ORDER BY r.purged_at DESC, r.id DESC`, hash)
	if err != nil {
		if isUndefinedTable(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Receipt, error) {
		var r Receipt
		var rws, objs, procs []byte
		if err := row.Scan(&r.SubjectHash, &r.RunID, &r.RequestedAt, &r.PurgedAt, &r.PolicyDigest, &rws, &objs, &procs, &r.Verification, &r.VerifiedAt, &r.Searched); err != nil {
			return r, err
		}
		return r, errors.Join(json.Unmarshal(rws, &r.Rows), json.Unmarshal(objs, &r.Objects), json.Unmarshal(procs, &r.Processors))
	})
}
