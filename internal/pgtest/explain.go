package pgtest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Querier is a pool, a connection or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// planNode is a node of EXPLAIN (ANALYZE, FORMAT JSON).
type planNode struct {
	Rows  float64    `json:"Actual Rows"`
	Loops float64    `json:"Actual Loops"`
	Plans []planNode `json:"Plans"`
}

// most is the most rows any node of the plan produced over its loops.
func (n planNode) most() float64 {
	m := n.Rows * max(n.Loops, 1)
	for _, c := range n.Plans {
		m = max(m, c.most())
	}
	return m
}

// MostRows runs q under EXPLAIN ANALYZE in db and returns the most rows
// any node of its plan produced (what the statement read, at the least),
// and the plan as JSON for a failing test's message. q runs for real:
// call it on a statement that changes nothing, or in a transaction the
// test rolls back.
func MostRows(ctx context.Context, db Querier, q string, args ...any) (float64, string, error) {
	var out []byte
	if err := db.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+q, args...).Scan(&out); err != nil {
		return 0, "", fmt.Errorf("explain: %w", err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) == 0 {
		return 0, string(out), fmt.Errorf("explain: unexpected output: %v", err)
	}
	return plans[0].Plan.most(), string(out), nil
}
