package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OtherKeyReceipts counts the receipts made by runs whose subject hash key
// had none of the fingerprints known (the current key's and the previous
// keys'): when a subject has no
// receipt under this key but such receipts exist, the answer is not "not
// erased" but "looked up with the wrong key". Receipts of runs that
// recorded no fingerprint (before lethe recorded it) are not counted. It
// returns 0 when the lethe schema does not exist yet.
func OtherKeyReceipts(ctx context.Context, pool *pgxpool.Pool, known []string) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT count(*) FROM lethe.receipts r JOIN lethe.runs u ON u.id = r.run_id
		WHERE u.key_fingerprint IS NOT NULL AND u.key_fingerprint <> ALL($1)`, known).Scan(&n)
	if err != nil {
		if isUndefinedTable(err) || isUndefinedColumn(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("read receipts: %w", err)
	}
	return n, nil
}
