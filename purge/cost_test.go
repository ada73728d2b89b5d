package purge_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/purge"
	"github.com/stretchr/testify/require"
)

// costSchema has many eligible users with one requested_at, as when a
// backlog of requests came in at once, and the index an application keeps
// for the purge.
const costSchema = `CREATE TABLE users (id bigint PRIMARY KEY, requested_at timestamptz, hold boolean NOT NULL DEFAULT false);
CREATE INDEX ON users (requested_at) WHERE requested_at IS NOT NULL;
INSERT INTO users SELECT i, CASE WHEN i % 2 = 0 THEN now() - interval '40 days' END FROM generate_series(1, 20000) i;
ANALYZE users;`

const costPolicy = `subject: {table: users, key: id, requested_at: requested_at, grace: 30d, hold: hold}
tables: []
`

// TestBatchSelectReadsOnlyItsBatch checks that selecting a batch of 100
// subjects out of 10,000 eligible ones reads about 100 rows, with the
// custom plan and with the generic one a prepared statement turns to: a
// select that sorts every eligible subject makes each batch cost as much
// as the whole backlog, so that a run slows down as the data grows.
func TestBatchSelectReadsOnlyItsBatch(t *testing.T) {
	b := setup(t, costSchema, costPolicy)
	ctx := context.Background()
	q, err := purge.BatchSelectSQL(ctx, b.db.Pool, b.pol)
	require.NoError(t, err)
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		tx, err := b.db.Pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "PREPARE sel AS "+q)
		require.NoError(t, err)
		rows, plan, err := pgtest.MostRows(ctx, tx, `EXECUTE sel('30 days', 100, '{}')`)
		require.NoError(t, err)
		require.LessOrEqual(t, rows, 200.0, "%s: a batch of 100 read more rows than it selects:\n%s", mode, plan)
	}
}

// TestFirstBatchPlansBeforeItsTransaction checks that the first batches on
// fresh connections neither prepare nor plan their statements inside their
// transactions: on a schema of a thousand tables that work, the first to
// open each table and index in the server process, made the first batch
// the run's longest transaction.
func TestFirstBatchPlansBeforeItsTransaction(t *testing.T) {
	b := setup(t, exampleSchema, examplePolicy)
	for i := range 6 {
		b.addUser(fmt.Sprintf("gone%d", i), "45 days", false, "")
	}
	o := b.config(func(o *options) { o.BatchSize = 2; o.Workers = 2; o.AllowLarge = true })
	j, err := purge.New(o.Config)
	require.NoError(t, err)
	type seen struct{ preparedInTx, customPlans, statements int }
	var (
		mu  sync.Mutex
		saw []seen
	)
	purge.SetInTx(j, func(tx pgx.Tx) {
		var s seen
		// now() is when the transaction began.
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE prepare_time >= now()),
			COALESCE(sum(custom_plans), 0), count(*) FROM pg_prepared_statements WHERE statement = ANY($1)`,
			purge.BatchStatements(j, false)).Scan(&s.preparedInTx, &s.customPlans, &s.statements))
		mu.Lock()
		saw = append(saw, s)
		mu.Unlock()
	})
	_, code := runJob(t, o, j)
	require.Equal(t, jobs.ExitOK, code)
	require.Len(t, saw, 3)
	for _, s := range saw {
		require.Zero(t, s.preparedInTx, "statements prepared inside a batch's transaction: %+v", saw)
		require.Zero(t, s.customPlans, "statements planned inside a batch's transaction: %+v", saw)
		require.Equal(t, len(purge.BatchStatements(j, false)), s.statements, "every statement of the batch is prepared: %+v", saw)
	}
}
