package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/policy"
)

// relation is a named relation that lethe cannot act on: a view, a
// materialized view, a foreign table or a partition.
type relation struct {
	kind   string // pg_class.relkind
	parent string // the partitioned table, for a partition
}

const catalogOtherSQL = `
SELECT n.nspname, c.relname, c.relkind, COALESCE((SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid LIMIT 1), '')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (c.relkind IN ('v', 'm', 'f') OR c.relkind IN ('r', 'p') AND c.relispartition)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'lethe') AND n.nspname NOT LIKE 'pg_toast%'`

// loadOthers reads the relations that are not tables lethe can use, so
// that a rule naming one is told what it is.
func (c *Catalog) loadOthers(ctx context.Context, q Querier) error {
	c.others = map[[2]string]relation{}
	rows, err := q.Query(ctx, catalogOtherSQL)
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schema, name, kind, parent string
		if err := rows.Scan(&schema, &name, &kind, &parent); err != nil {
			return fmt.Errorf("read catalog: %w", err)
		}
		c.others[[2]string{schema, name}] = relation{kind: kind, parent: parent}
	}
	return rows.Err()
}

// resolve finds the schema and name id refers to among names, through the
// search_path for an unqualified name.
func resolve[T any](c *Catalog, names map[[2]string]T, id policy.Ident) (key [2]string, v T, ok bool) {
	switch len(id.Parts) {
	case 2:
		key = [2]string{id.Parts[0], id.Parts[1]}
		v, ok = names[key]
		return key, v, ok
	case 1:
		for _, s := range c.searchPath {
			key = [2]string{s, id.Parts[0]}
			if v, ok = names[key]; ok {
				return key, v, true
			}
		}
	}
	return key, v, false
}

// Missing says why id names no table lethe can use: what it is when it is
// a view, a materialized view, a foreign table or a partition; otherwise
// that it does not exist, with the quoted name of a table that differs
// only in case, which an unquoted name cannot reach.
func (c *Catalog) Missing(id policy.Ident) string {
	if _, rel, ok := resolve(c, c.others, id); ok {
		switch rel.kind {
		case "v":
			return fmt.Sprintf("%s is a view, not a table: lethe deletes and updates rows only in tables; name the tables the view reads", id)
		case "m":
			return fmt.Sprintf("%s is a materialized view, not a table: its rows are copies of its tables' rows; name those tables and refresh the view after the purge", id)
		case "f":
			return fmt.Sprintf("%s is a foreign table: its rows live on another server, which lethe can neither erase in its transaction nor verify; erase them there (for example with a processors: entry)", id)
		default:
			return fmt.Sprintf("%s is a partition of %s: name the partitioned table, whose rules cover every partition", id, rel.parent)
		}
	}
	msg := fmt.Sprintf("table %s does not exist", id)
	if hint := c.sameButCase(id); hint != "" {
		if folded := strings.Join(id.Parts, "."); folded != id.Raw {
			msg = fmt.Sprintf("table %s (unquoted, so %s) does not exist", id, folded)
		}
		msg += fmt.Sprintf("; did you mean %s?", hint)
	}
	return msg
}

// sameButCase returns the quoted name of the one table whose name equals
// id's but for case, or "".
func (c *Catalog) sameButCase(id policy.Ident) string {
	var found []*Table
	for key, t := range c.byName {
		switch len(id.Parts) {
		case 1:
			if strings.EqualFold(key[1], id.Parts[0]) && c.onSearchPath(key[0]) {
				found = append(found, t)
			}
		case 2:
			if strings.EqualFold(key[0], id.Parts[0]) && strings.EqualFold(key[1], id.Parts[1]) {
				found = append(found, t)
			}
		}
	}
	if len(found) != 1 {
		return ""
	}
	t := found[0]
	if len(id.Parts) == 1 {
		return pgx.Identifier{t.Name}.Sanitize()
	}
	return pgx.Identifier{t.Schema, t.Name}.Sanitize()
}

func (c *Catalog) onSearchPath(schema string) bool {
	for _, s := range c.searchPath {
		if s == schema {
			return true
		}
	}
	return false
}

// MissingColumn says that t has no column name, with the quoted name of a
// column that differs only in case.
func (t *Table) MissingColumn(name string) string {
	msg := fmt.Sprintf("column %s does not exist in table %s", name, t)
	var found []string
	for col := range t.Columns {
		if strings.EqualFold(col, name) {
			found = append(found, col)
		}
	}
	if len(found) == 1 {
		msg += fmt.Sprintf("; did you mean %s?", pgx.Identifier{found[0]}.Sanitize())
	}
	return msg
}
