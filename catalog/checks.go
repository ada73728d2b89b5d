package catalog

import (
	"context"
	"fmt"
)

// Check is one CHECK constraint of a table.
type Check struct {
	// Name is the constraint name.
	Name string
	// Def is the constraint as pg_get_constraintdef prints it.
	Def string
	// Expr is its expression, as pg_get_expr prints it: SQL the server
	// wrote, over the table's columns by their bare names.
	Expr string
	// Columns lists the columns the expression reads.
	Columns []string
	// Validated is false for a NOT VALID constraint, which old rows may
	// break but every written row must meet.
	Validated bool
}

const catalogChecksSQL = `
SELECT con.conrelid, con.conname, pg_get_constraintdef(con.oid), pg_get_expr(con.conbin, con.conrelid), con.convalidated,
       ARRAY(SELECT attname FROM unnest(con.conkey) k(n) JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.n ORDER BY attname)
FROM pg_constraint con
WHERE con.contype = 'c'
ORDER BY con.conrelid, con.conname`

// loadChecks reads the CHECK constraints of the catalog's tables.
func (c *Catalog) loadChecks(ctx context.Context, q Querier) error {
	rows, err := q.Query(ctx, catalogChecksSQL)
	if err != nil {
		return fmt.Errorf("read check constraints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			oid uint32
			ch  Check
		)
		if err := rows.Scan(&oid, &ch.Name, &ch.Def, &ch.Expr, &ch.Validated, &ch.Columns); err != nil {
			return fmt.Errorf("read check constraints: %w", err)
		}
		if t := c.byOID[oid]; t != nil {
			t.Checks = append(t.Checks, &ch)
		}
	}
	return rows.Err()
}
