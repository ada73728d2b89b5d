package retention

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// The statement of a block range reads only its blocks, with a TID Range
// Scan, also in the generic plan that a prepared statement ends up with.
func TestBlockRangeUsesTidRangeScan(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `CREATE TABLE activity_log (id bigint PRIMARY KEY, created_at timestamptz, kind text);
CREATE INDEX ON activity_log (created_at, id);`)
	db.Exec(t, `INSERT INTO activity_log SELECT g, now() - g * interval '1 hour', 'k' FROM generate_series(1, 20000) g`)
	db.Exec(t, "ANALYZE activity_log")
	pol, err := policy.Parse([]byte(`subject: {table: users, key: id, requested_at: deletion_requested_at, grace: 30d}
retention:
  - {table: activity_log, column: created_at, keep: 90d, where: {kind: k}}
`), "test.yaml")
	require.NoError(t, err)
	ctx := context.Background()
	targets, err := resolve(ctx, db.Pool, pol)
	require.NoError(t, err)
	tg := targets[0]
	for i, dry := range []bool{false, true} {
		name := fmt.Sprintf("r%d", i)
		sql := tg.buildRange(tg.table.Ident(), dry)
		tx, err := db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan")
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "PREPARE "+name+"(timestamptz, tid, tid, text) AS "+sql)
		require.NoError(t, err)
		rows, err := tx.Query(ctx, "EXPLAIN EXECUTE "+name+"(now() - interval '90 days', '(10,0)', '(20,0)', 'k')")
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		plan := strings.Join(lines, "\n")
		t.Log(plan)
		require.Contains(t, plan, "Tid Range Scan")
		require.NotContains(t, plan, "Seq Scan")
		require.NoError(t, tx.Rollback(ctx))
	}
}
