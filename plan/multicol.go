package plan

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// matchColumns resolves the columns of a rule's match: list; nil (and
// problems added) when one does not exist.
func (b *builder) matchColumns(t *catalog.Table, r *policy.Rule, what string) []*catalog.Column {
	var cols []*catalog.Column
	for _, id := range r.Match.Columns() {
		c := b.column(t, id, r.Line, what)
		if c == nil {
			return nil
		}
		cols = append(cols, c)
	}
	return cols
}

// findLink returns the foreign key or declared reference from child to
// parent whose referencing columns are exactly cols, in any order.
func findLink(fks []*catalog.FK, child, parent *catalog.Table, cols []*catalog.Column) *catalog.FK {
	for _, fk := range fks {
		if fk.Child != child || fk.Parent != parent || len(fk.ChildCols) != len(cols) {
			continue
		}
		all := true
		for _, c := range cols {
			all = all && contains(fk.ChildCols, c.Name)
		}
		if all {
			return fk
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bind makes the step follow every column of the multi-column key fk:
// Match is the column that refers to fk's parent column named primary
// (the last column when none does), Ref that parent column, and the other
// pairs are extra.
func (s *Step) bind(fk *catalog.FK, primary string) {
	p := len(fk.ChildCols) - 1
	for i, c := range fk.ParentCols {
		if c == primary {
			p = i
		}
	}
	s.Match, s.Ref, s.link, s.extra = fk.Child.Columns[fk.ChildCols[p]], fk.Parent.Columns[fk.ParentCols[p]], fk, nil
	for i := range fk.ChildCols {
		if i != p {
			s.extra = append(s.extra, [2]*catalog.Column{fk.Child.Columns[fk.ChildCols[i]], fk.Parent.Columns[fk.ParentCols[i]]})
		}
	}
}

// linkKey resolves a rule that matches several columns with no via: they
// must be the columns of a multi-column foreign key or declared reference
// into the subject table. Like on:, the step reaches the subject through a
// lookup of the subject row by key, which reads the subject's values of
// the referenced columns in the batch, before the subject row changes.
func (b *builder) linkKey(pl *Plan, s *Step, cols []*catalog.Column) {
	r := s.Rule
	st := pl.Subject.Table
	fk := findLink(b.fks, s.Table, st, cols)
	if fk == nil {
		b.perr.Add(r.Line, "rule for %s: match %s: no foreign key or declared reference from %s (%s) into %s; declare one under references: with columns: and to_columns:, or give via:",
			r.Table, r.Match, s.Table, columnNames(cols), st)
		return
	}
	s.bind(fk, pl.Subject.Key.Name)
	for _, x := range append([][2]*catalog.Column{{s.Match, s.Ref}}, s.extra...) {
		if !compatible(x[0], x[1]) {
			b.perr.Add(r.Line, "rule for %s: %s is %s but %s.%s is %s", r.Table, x[0].Name, x[0].Type, st, x[1].Name, x[1].Type)
			return
		}
	}
	if b.lookup == nil {
		b.lookup = &Step{Table: st, Match: pl.Subject.Key}
	}
	s.Via, s.On = b.lookup, s.Ref
	_, refs := s.Link()
	s.After = append(s.After, fmt.Sprintf("reads the subject's %s before the subject row changes", columnNames(refs)))
}

// Link returns the columns the step compares, Match first, and the columns
// they hold, in the same order: of the Via table's rows, or with On of the
// subject row. A multi-column key gives several pairs.
func (s *Step) Link() (cols, refs []*catalog.Column) {
	cols, refs = []*catalog.Column{s.Match}, []*catalog.Column{s.Ref}
	for _, x := range s.extra {
		cols, refs = append(cols, x[0]), append(refs, x[1])
	}
	return cols, refs
}

// detaches reports whether the step's set: moves its rows off fk (sets one
// of fk's columns that it matches on to null or to another parent row), so
// that deleting the parent rows neither cascades to them nor leaves them
// pointing at nothing.
func (s *Step) detaches(fk *catalog.FK) bool {
	cols := []string{s.Match.Name}
	if s.link == fk {
		cols = fk.ChildCols
	}
	for _, sc := range s.Set {
		if contains(cols, sc.Column.Name) && sc.Value.Kind != policy.Pseudonym {
			return true
		}
	}
	return false
}

// covers reports whether the step is the rule for the reference fk: it
// matches fk's one column, or follows fk's columns.
func (s *Step) covers(fk *catalog.FK) bool {
	return s.Table == fk.Child && (len(fk.ChildCols) == 1 && s.Match.Name == fk.ChildCols[0] && s.link == nil || s.link == fk)
}

func columnNames(cols []*catalog.Column) string {
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}
