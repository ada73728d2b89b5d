package purge

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/ledger"
)

// genericPlansSQL makes a batch's statements run with the generic plans
// warm built, instead of planning each statement again for each of a
// connection's first five batches: every statement is "match = ANY(keys)",
// for which the keys' values teach the planner nothing.
const genericPlansSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`

// batchStatements are the statements a batch sends inside its transaction.
func (j *Job) batchStatements(dry bool) []string {
	var out []string
	if !dry {
		out = append(out, genericPlansSQL)
	}
	switch {
	case j.one != nil && dry:
		out = append(out, j.sql.selectOneDry)
	case j.one != nil:
		out = append(out, j.sql.selectOne)
	case dry:
		out = append(out, j.sql.selectDry)
	default:
		out = append(out, j.sql.selectBatch)
	}
	steps := j.sql.steps
	if dry {
		steps = j.sql.counts
	}
	for _, st := range steps {
		out = append(out, st.SQL)
	}
	if !dry {
		out = append(out, forgetNoticesSQL, ledger.InsertReceiptsSQL)
	}
	return out
}

// warm prepares every statement of a batch on n of the pool's connections
// (all the idle ones, and new ones up to n) and builds its generic plan,
// outside any transaction. Otherwise the first batch on each connection
// parses and plans them inside its transaction: on a schema of a thousand
// tables that is hundreds of statements, each the first to open its table
// and indexes in that server process, and the longest transaction of the
// run. Each statement is prepared and planned in a transaction of its own,
// which changes nothing and holds its table's lock only while it plans.
func (j *Job) warm(ctx context.Context, pool *pgxpool.Pool, n int, dry bool) error {
	conns := pool.AcquireAllIdle(ctx)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	// One connection stays free for whoever holds the run's lock.
	n = min(n, int(pool.Config().MaxConns)-1)
	for len(conns) < n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("purge: prepare statements: %w", err)
		}
		conns = append(conns, c)
	}
	stmts := j.batchStatements(dry)
	for _, c := range conns {
		if err := warmConn(ctx, c.Conn(), stmts, !dry); err != nil {
			return err
		}
	}
	return nil
}

// warmConn prepares stmts on c under their own text, the name pgx looks up
// before its statement cache, and, with generic, builds their generic
// plans. A dry run keeps custom plans: its keyset select ("after this
// subject, or from the start") would lose its index in a generic plan.
func warmConn(ctx context.Context, c *pgx.Conn, stmts []string, generic bool) (err error) {
	if !generic {
		for _, sql := range stmts {
			if _, err := c.Prepare(ctx, sql, sql); err != nil {
				return fmt.Errorf("purge: prepare statements: %w", err)
			}
		}
		return nil
	}
	if _, err := c.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		return fmt.Errorf("purge: prepare statements: %w", err)
	}
	defer func() {
		if _, rerr := c.Exec(context.WithoutCancel(ctx), "RESET plan_cache_mode"); rerr != nil && err == nil {
			err = fmt.Errorf("purge: prepare statements: %w", rerr)
		}
	}()
	for _, sql := range stmts {
		sd, err := c.Prepare(ctx, sql, sql)
		if err != nil {
			return fmt.Errorf("purge: prepare statements: %w", err)
		}
		// The generic plan does not depend on the values: NULL will do.
		q := "EXPLAIN EXECUTE " + pgx.Identifier{sd.Name}.Sanitize()
		if n := len(sd.ParamOIDs); n > 0 {
			q += "(" + strings.TrimSuffix(strings.Repeat("NULL, ", n), ", ") + ")"
		}
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("purge: plan statements: %w", err)
		}
	}
	return nil
}
