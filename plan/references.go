package plan

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// references resolves the policy's references: entries into foreign-key
// edges marked Declared, checked against the catalog, and returns the
// edges the planner follows: the catalog's foreign keys and those. A
// declared reference that repeats a foreign key adds nothing.
func (b *builder) references() (all, declared []*catalog.FK) {
	all = append(all, b.cat.FKs...)
	for _, r := range b.rules.References {
		fk := b.reference(r)
		if fk == nil || repeats(b.cat.FKs, fk) {
			continue
		}
		all = append(all, fk)
		declared = append(declared, fk)
	}
	return all, declared
}

// reference resolves one entry, or adds its problems and returns nil.
func (b *builder) reference(r policy.Reference) *catalog.FK {
	what := "reference from " + r.Table.String()
	ct := b.table(r.Table, r.Line, what)
	to := r.To
	if to.IsZero() {
		to = b.root.Table
	}
	pt := b.table(to, r.Line, what)
	if ct == nil || pt == nil {
		return nil
	}
	fk := &catalog.FK{Name: "declared reference", Child: ct, Parent: pt, OnDelete: "a", Declared: true, Line: r.Line}
	ok := true
	for _, c := range r.From() {
		if col := b.column(ct, c, r.Line, what); col != nil {
			fk.ChildCols = append(fk.ChildCols, col.Name)
		} else {
			ok = false
		}
	}
	target := r.Target()
	switch {
	case len(target) > 0:
		for _, c := range target {
			if col := b.column(pt, c, r.Line, what); col != nil {
				fk.ParentCols = append(fk.ParentCols, col.Name)
			} else {
				ok = false
			}
		}
	case pt == b.subjectTable() && len(fk.ChildCols) == 1 && !b.root.Key.IsZero():
		fk.ParentCols = []string{b.root.Key.Column()}
	case len(pt.PK) == 0:
		b.perr.Add(r.Line, "%s: %s has no primary key: name to_column", what, pt)
		return nil
	default:
		fk.ParentCols = pt.PK
	}
	if !ok {
		return nil
	}
	if len(fk.ChildCols) != len(fk.ParentCols) {
		b.perr.Add(r.Line, "%s names %d column but the primary key of %s has %d: name to_columns", what, len(fk.ChildCols), pt, len(fk.ParentCols))
		return nil
	}
	for i, c := range fk.ChildCols {
		cc, pc := ct.Columns[c], pt.Columns[fk.ParentCols[i]]
		if pc == nil {
			b.perr.Add(r.Line, "%s: %s", what, pt.MissingColumn(fk.ParentCols[i]))
			return nil
		}
		if !compatible(cc, pc) {
			b.perr.Add(r.Line, "%s: %s is %s but %s.%s is %s", what, cc.Name, cc.Type, pt, pc.Name, pc.Type)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return fk
}

// repeats reports whether a foreign key already links fk's columns.
func repeats(fks []*catalog.FK, fk *catalog.FK) bool {
	for _, o := range fks {
		if o.Child == fk.Child && o.Parent == fk.Parent &&
			strings.Join(o.ChildCols, ",") == strings.Join(fk.ChildCols, ",") &&
			strings.Join(o.ParentCols, ",") == strings.Join(fk.ParentCols, ",") {
			return true
		}
	}
	return false
}

func (b *builder) subjectTable() *catalog.Table {
	t, _ := b.cat.Lookup(b.root.Table)
	return t
}

// refText spells a foreign key or declared reference for messages.
func refText(fk *catalog.FK) string {
	if fk.Declared {
		return fmt.Sprintf("%s.%s references %s(%s) (%s)", fk.Child, strings.Join(fk.ChildCols, ", "), fk.Parent,
			strings.Join(fk.ParentCols, ", "), fk.OnDeleteText())
	}
	return fmt.Sprintf("%s.%s references %s(%s) (%s, %s)", fk.Child, strings.Join(fk.ChildCols, ", "), fk.Parent,
		strings.Join(fk.ParentCols, ", "), fk.Name, fk.OnDeleteText())
}
