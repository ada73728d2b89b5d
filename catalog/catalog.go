// Package catalog reads what lethe needs to know of a database's tables:
// columns, primary keys, foreign keys, and the relations a policy may name
// by mistake (views, partitions), so that every error can say what a name is.
package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/policy"
)

// Querier is what the catalog and plan need from a connection or pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Column is one column of a table.
type Column struct {
	// Name is the column name.
	Name string
	// Type is the SQL type as format_type prints it (safe to splice).
	Type string
	// Category is pg_type.typcategory: S string, N numeric, U user (uuid),
	// D date/time, B boolean.
	Category string
	// NotNull is true for NOT NULL columns.
	NotNull bool
}

// Ident returns the column name quoted for SQL.
func (c *Column) Ident() string { return pgx.Identifier{c.Name}.Sanitize() }

// Textual reports whether values of c compare as text.
func (c *Column) Textual() bool { return c.Category == "S" }

// Table is one ordinary or partitioned table.
type Table struct {
	// OID is the table's pg_class oid.
	OID uint32
	// Schema and Name name the table.
	Schema, Name string
	// Partitioned is true for a partitioned table.
	Partitioned bool
	// Columns maps column names to columns.
	Columns map[string]*Column
	// ColumnOrder lists the column names in the table's order.
	ColumnOrder []string
	// PK lists the primary key columns in order.
	PK []string
	// Checks lists the table's CHECK constraints, NOT VALID ones too.
	Checks []*Check
}

// Ident returns the schema-qualified name quoted for SQL.
func (t *Table) Ident() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// String returns the name for messages and reports: without the public
// schema, and quoted only where SQL would need quotes.
func (t *Table) String() string {
	if t.Schema == "public" {
		return displayPart(t.Name)
	}
	return displayPart(t.Schema) + "." + displayPart(t.Name)
}

func displayPart(s string) string {
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '$')) {
			return pgx.Identifier{s}.Sanitize()
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// FK is one foreign key constraint.
type FK struct {
	// Name is the constraint name.
	Name string
	// Child is the referencing table, Parent the referenced one.
	Child, Parent *Table
	// ChildCols and ParentCols are the key columns, in order.
	ChildCols, ParentCols []string
	// OnDelete is pg_constraint.confdeltype: a no action, r restrict,
	// c cascade, n set null, d set default. A declared reference is "a".
	OnDelete string
	// Declared is true for a reference the policy declares (references:)
	// where the database has no foreign key: nothing stops a row from
	// pointing at a deleted one, and nothing cascades.
	Declared bool
	// Line is the policy line that declares the reference.
	Line int
}

// OnDeleteText spells the FK's ON DELETE action, or where the policy
// declares it.
func (fk *FK) OnDeleteText() string {
	if fk.Declared {
		return fmt.Sprintf("declared at line %d", fk.Line)
	}
	switch fk.OnDelete {
	case "c":
		return "ON DELETE CASCADE"
	case "n":
		return "ON DELETE SET NULL"
	case "d":
		return "ON DELETE SET DEFAULT"
	case "r":
		return "ON DELETE RESTRICT"
	}
	return "ON DELETE NO ACTION"
}

// Blocks reports whether the FK makes deleting a referenced row fail.
func (fk *FK) Blocks() bool { return fk.OnDelete == "a" || fk.OnDelete == "r" }

// Catalog is what lethe needs to know of the database's tables.
type Catalog struct {
	byOID      map[uint32]*Table
	byName     map[[2]string]*Table
	searchPath []string
	others     map[[2]string]relation
	// FKs lists every foreign key between user tables.
	FKs []*FK
}

const catalogTablesSQL = `
SELECT c.oid, n.nspname, c.relname, c.relkind = 'p',
       a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory, a.attnotnull,
       COALESCE(a.attnum = ANY (pk.conkey), false), COALESCE(array_position(pk.conkey, a.attnum), 0)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'lethe') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY c.oid, a.attnum`

const catalogFKsSQL = `
SELECT con.conname, con.conrelid, con.confrelid, con.confdeltype,
       ARRAY(SELECT attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.n ORDER BY k.o),
       ARRAY(SELECT attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute ON attrelid = con.confrelid AND attnum = k.n ORDER BY k.o)
FROM pg_constraint con
WHERE con.contype = 'f' AND con.conparentid = 0
ORDER BY con.conrelid, con.conname`

// Load reads tables, columns, primary keys and foreign keys.
func Load(ctx context.Context, q Querier) (*Catalog, error) {
	c := &Catalog{byOID: map[uint32]*Table{}, byName: map[[2]string]*Table{}}
	if err := q.QueryRow(ctx, "SELECT current_schemas(false)").Scan(&c.searchPath); err != nil {
		return nil, fmt.Errorf("read search_path: %w", err)
	}
	rows, err := q.Query(ctx, catalogTablesSQL)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	type pkcol struct {
		pos  int
		name string
	}
	pks := map[uint32][]pkcol{}
	for rows.Next() {
		var (
			oid                    uint32
			schema, name, col, typ string
			cat                    string
			part, notNull, inPK    bool
			pkPos                  int
		)
		if err := rows.Scan(&oid, &schema, &name, &part, &col, &typ, &cat, &notNull, &inPK, &pkPos); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		t := c.byOID[oid]
		if t == nil {
			t = &Table{OID: oid, Schema: schema, Name: name, Partitioned: part, Columns: map[string]*Column{}}
			c.byOID[oid] = t
			c.byName[[2]string{schema, name}] = t
		}
		t.Columns[col] = &Column{Name: col, Type: typ, Category: cat, NotNull: notNull}
		t.ColumnOrder = append(t.ColumnOrder, col)
		if inPK {
			pks[oid] = append(pks[oid], pkcol{pkPos, col})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	for oid, cols := range pks {
		pk := make([]string, len(cols))
		for _, pc := range cols {
			pk[pc.pos-1] = pc.name
		}
		c.byOID[oid].PK = pk
	}
	if err := c.loadOthers(ctx, q); err != nil {
		return nil, err
	}
	if err := c.loadChecks(ctx, q); err != nil {
		return nil, err
	}
	rows, err = q.Query(ctx, catalogFKsSQL)
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	for rows.Next() {
		var (
			name, del   string
			child, par  uint32
			ccols, pcol []string
		)
		if err := rows.Scan(&name, &child, &par, &del, &ccols, &pcol); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read foreign keys: %w", err)
		}
		ct, pt := c.byOID[child], c.byOID[par]
		if ct == nil || pt == nil {
			continue // a partition or a table in an excluded schema
		}
		c.FKs = append(c.FKs, &FK{Name: name, Child: ct, Parent: pt, ChildCols: ccols, ParentCols: pcol, OnDelete: del})
	}
	return c, rows.Err()
}

// Lookup finds the table a policy name refers to, resolving an unqualified
// name through the search_path as PostgreSQL would.
// When it finds none, Missing says why.
func (c *Catalog) Lookup(id policy.Ident) (*Table, bool) {
	_, t, ok := resolve(c, c.byName, id)
	return t, ok
}

// FKsInto lists the foreign keys that reference t.
func (c *Catalog) FKsInto(t *Table) []*FK {
	var out []*FK
	for _, fk := range c.FKs {
		if fk.Parent == t {
			out = append(out, fk)
		}
	}
	return out
}
