package plan

import (
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// Option changes how [Build] checks a policy.
type Option func(*builder)

// Absent tells [Build] that table has no row whose column points at a
// subject being erased: the caller selects only such subjects, and a
// foreign key through that column, whatever its ON DELETE action, neither
// blocks the deletion nor needs a rule. The orphans job removes only
// organizations with no row in their members table.
func Absent(table policy.Ident, column string) Option {
	return func(b *builder) { b.absent = append(b.absent, absentRef{table, column}) }
}

type absentRef struct {
	table  policy.Ident
	column string
}

// isAbsent reports whether fk's rows are known to be absent for the
// subjects being erased (see [Absent]): a single-column key into the
// subject table, through a column named by [Absent].
func (b *builder) isAbsent(pl *Plan, fk *catalog.FK) bool {
	if fk.Parent != pl.Subject.Table || len(fk.ChildCols) != 1 {
		return false
	}
	for _, a := range b.absent {
		if t, ok := b.cat.Lookup(a.table); ok && t == fk.Child && a.column == fk.ChildCols[0] {
			return true
		}
	}
	return false
}
