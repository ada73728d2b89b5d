package retention

import (
	"context"
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/policy"
)

// target is one retention rule resolved against the catalog.
type target struct {
	rule  policy.RetentionRule
	table *catalog.Table
	// col is the column that ages the rows.
	col *catalog.Column
	// key orders rows of equal col: the primary key, or ctid for a table
	// without one.
	key []keyCol
	// filters are the rule's where: equalities.
	filters []filter
}

// keyCol is one column of the keyset after the retention column.
type keyCol struct {
	ident, typ string
}

// filter is one where: equality; value nil means IS NULL.
type filter struct {
	ident, typ string
	value      *string
}

// name is the table as reports and logs show it.
func (t *target) name() string { return t.table.String() }

// timeType says how the column compares with a timestamptz cutoff.
func timeType(typ string) (ok, withZone bool) {
	switch {
	case strings.HasPrefix(typ, "timestamp") && strings.HasSuffix(typ, "with time zone") && !strings.HasSuffix(typ, "without time zone"):
		return true, true
	case strings.HasPrefix(typ, "timestamp"), typ == "date":
		return true, false
	}
	return false, false
}

// cutoffExpr is $1 (a timestamptz) as a value comparable with the column:
// timestamp and date columns are read as UTC.
func (t *target) cutoffExpr() string {
	if _, withZone := timeType(t.col.Type); withZone {
		return "$1::timestamptz"
	}
	return "($1::timestamptz AT TIME ZONE 'UTC')"
}

// resolve checks every retention rule against the catalog and the server
// and returns the targets, or a *policy.Error listing every problem.
func resolve(ctx context.Context, q catalog.Querier, pol *policy.Policy) ([]*target, error) {
	cat, err := catalog.Load(ctx, q)
	if err != nil {
		return nil, err
	}
	perr := &policy.Error{Path: pol.Path}
	var out []*target
	for _, r := range pol.Retention {
		t, err := resolveRule(ctx, q, cat, r, perr)
		if err != nil {
			return nil, err
		}
		if t != nil {
			out = append(out, t)
		}
	}
	if err := perr.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// resolveRule resolves one rule, adding its problems to perr. It returns an
// error only when the server cannot be asked.
func resolveRule(ctx context.Context, q catalog.Querier, cat *catalog.Catalog, r policy.RetentionRule, perr *policy.Error) (*target, error) {
	tbl, ok := cat.Lookup(r.Table)
	if !ok {
		perr.Add(r.Line, "retention: %s", cat.Missing(r.Table))
		return nil, nil
	}
	t := &target{rule: r, table: tbl}
	bad := false
	if len(r.Column.Parts) != 1 {
		perr.Add(r.Line, "retention rule for %s: column must be a column name, not %q", tbl, r.Column.Raw)
		bad = true
	} else if c, ok := tbl.Columns[r.Column.Column()]; !ok {
		perr.Add(r.Line, "retention rule for %s: %s", tbl, tbl.MissingColumn(r.Column.Raw))
		bad = true
	} else if ok, _ := timeType(c.Type); !ok {
		perr.Add(r.Line, "retention rule for %s: column %s is %s, want timestamp, timestamptz or date", tbl, c.Name, c.Type)
		bad = true
	} else {
		t.col = c
	}
	for _, w := range r.Where {
		c, ok := tbl.Columns[w.Column.Column()]
		if !ok || len(w.Column.Parts) != 1 {
			perr.Add(w.Line, "retention rule for %s: where column %s does not exist", tbl, w.Column.Raw)
			bad = true
			continue
		}
		f := filter{ident: c.Ident(), typ: c.Type}
		if w.Value.Kind == policy.Literal {
			v := w.Value.Text
			f.value = &v
			if err := castCheck(ctx, q, v, c.Type); err != nil {
				if !pgerr.IsDataError(err) {
					return nil, fmt.Errorf("retention: check where value: %w", err)
				}
				perr.Add(w.Line, "retention rule for %s: where %s: %q is not a valid %s: %v", tbl, c.Name, v, c.Type, pgerr.Redact(err))
				bad = true
			}
		}
		t.filters = append(t.filters, f)
	}
	if bad {
		return nil, nil
	}
	// A table without a primary key is batched on (column, ctid): ctid
	// identifies a row version, so a row updated during the run may be
	// left for the next one, never deleted twice nor by mistake.
	for _, k := range tbl.PK {
		t.key = append(t.key, keyCol{ident: tbl.Columns[k].Ident(), typ: tbl.Columns[k].Type})
	}
	if len(t.key) == 0 {
		t.key = []keyCol{{ident: "ctid", typ: "tid"}}
	}
	return t, nil
}

// castCheck asks the server whether v is a valid value of type typ.
func castCheck(ctx context.Context, q catalog.Querier, v, typ string) error {
	var ok bool
	return q.QueryRow(ctx, "SELECT $1::text::"+typ+" IS NOT NULL", v).Scan(&ok)
}
