package plan

import (
	"fmt"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// checkConstraints asks the server whether the value sc writes meets each
// CHECK constraint of the step's table that reads only sc's column, NOT
// VALID ones included: the constraint's own expression, evaluated over a
// one-row relation that holds the value under the column's name. A CHECK
// on several columns depends on each row's other values; only executing
// the statements finds those (lethe --job purge --dry-run=execute).
func (b *builder) checkConstraints(s *Step, sc SetColumn) {
	for _, ch := range s.Table.Checks {
		if len(ch.Columns) != 1 || ch.Columns[0] != sc.Column.Name {
			continue
		}
		val, args := "NULL::"+sc.Column.Type, []any{}
		if sc.Value.Kind == policy.Literal {
			val, args = "$1::text::"+sc.Column.Type, []any{sc.Value.Text}
		}
		q := fmt.Sprintf("SELECT (%s) IS NOT FALSE FROM (SELECT %s AS %s) AS t", ch.Expr, val, sc.Column.Ident())
		var ok bool
		if err := b.q.QueryRow(b.ctx, q, args...).Scan(&ok); err != nil {
			b.perr.Add(s.Line, "%s sets %s: evaluating CHECK constraint %s: %s", stepWhat(s), sc.Column.Name, ch.Name, pgMessage(err))
			continue
		}
		if !ok {
			b.perr.Add(s.Line, "%s sets %s to %s, which CHECK constraint %s%s refuses: %s", stepWhat(s), sc.Column.Name, sc.Value, ch.Name, notValid(ch), ch.Def)
		}
	}
}

func notValid(ch *catalog.Check) string {
	if ch.Validated {
		return ""
	}
	return " (NOT VALID)"
}

// stepWhat names a step's origin in messages.
func stepWhat(s *Step) string {
	if s.Rule == nil {
		return "subject"
	}
	return "rule for " + s.Rule.Table.String()
}
