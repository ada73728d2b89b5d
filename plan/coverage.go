package plan

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// ignored returns the ignore entry that covers the reference from t's
// columns cols: an entry for t with no column, with column: the one
// column, or with columns: exactly cols.
func (b *builder) ignored(t *catalog.Table, cols []string) *policy.Ignore {
	for i := range b.rules.Ignore {
		ig := &b.rules.Ignore[i]
		it, ok := b.cat.Lookup(ig.Table)
		if !ok || it != t {
			continue
		}
		switch {
		case ig.Column.IsZero() && len(ig.Columns) == 0:
			return ig
		case !ig.Column.IsZero():
			if len(cols) == 1 && ig.Column.Column() == cols[0] {
				return ig
			}
		case sameColumns(ig.Columns, cols):
			return ig
		}
	}
	return nil
}

func sameColumns(ids []policy.Ident, cols []string) bool {
	if len(ids) != len(cols) {
		return false
	}
	for i, id := range ids {
		if id.Column() != cols[i] {
			return false
		}
	}
	return true
}

// coverage checks that every foreign key and declared reference into the
// subject table or a deleted table is covered, and returns cascade steps
// for ignored tables whose rows go by ON DELETE CASCADE. An ignore entry
// with no column on a table with several such references is a warning
// that names what it covers.
func (b *builder) coverage(pl *Plan, steps []*Step, deleted map[*catalog.Table]bool) []*Step {
	for i := range b.rules.Ignore {
		ig := &b.rules.Ignore[i]
		if _, ok := b.cat.Lookup(ig.Table); !ok {
			b.perr.Add(ig.Line, "ignore: %s", b.cat.Missing(ig.Table))
		}
	}
	var cascades []*Step
	refs := map[*catalog.Table]int{}
	covers := map[*policy.Ignore][]string{}
	for _, fk := range b.fks {
		if fk.Parent != pl.Subject.Table && !deleted[fk.Parent] || b.isAbsent(pl, fk) {
			continue
		}
		refs[fk.Child]++
		ref := refText(fk)
		var rule *Step
		for _, s := range steps {
			if s.covers(fk) {
				rule = s
			}
		}
		if rule != nil {
			b.checkRule(rule, fk, ref, deleted)
			continue
		}
		ig := b.ignored(fk.Child, fk.ChildCols)
		switch {
		case ig == nil && len(fk.ChildCols) > 1 && fk.Parent == pl.Subject.Table:
			b.perr.Add(0, "%s: not covered; add a tables: rule for %s match [%s], or an ignore: entry with columns: [%s] and a reason",
				ref, fk.Child, strings.Join(fk.ChildCols, ", "), strings.Join(fk.ChildCols, ", "))
		case ig == nil && len(fk.ChildCols) > 1:
			b.perr.Add(0, "%s: not covered; add a tables: rule for %s match [%s] via %s, or an ignore: entry with columns: [%s] and a reason",
				ref, fk.Child, strings.Join(fk.ChildCols, ", "), fk.Parent, strings.Join(fk.ChildCols, ", "))
		case ig == nil:
			b.perr.Add(0, "%s: not covered; add a tables: rule (delete, anonymize or keep) for %s match %s, or an ignore: entry with a reason",
				ref, fk.Child, fk.ChildCols[0])
		case deleted[fk.Parent] && fk.Declared:
			b.perr.Add(ig.Line, "ignore %s: %s, so deleting %s rows would leave %s rows pointing at them; add a rule instead",
				fk.Child, ref, fk.Parent, fk.Child)
		case deleted[fk.Parent] && fk.Blocks():
			b.perr.Add(ig.Line, "ignore %s: %s, so deleting %s rows would fail while %s rows point at them; add a rule instead",
				fk.Child, ref, fk.Parent, fk.Child)
		default:
			covers[ig] = append(covers[ig], ref)
			if fk.OnDelete == "c" && deleted[fk.Parent] {
				cascades = append(cascades, b.cascadeSteps(pl, steps, fk, ig)...)
			}
		}
	}
	for i := range b.rules.Ignore {
		ig := &b.rules.Ignore[i]
		t, _ := b.cat.Lookup(ig.Table)
		if ig.Column.IsZero() && len(ig.Columns) == 0 && t != nil && refs[t] > 1 && len(covers[ig]) > 0 {
			pl.Warnings = append(pl.Warnings, fmt.Sprintf("ignore %s (line %d) has no column: it covers %s, and would cover any other of the %d references from %s that loses its rule; name column: or columns:",
				ig.Table, ig.Line, strings.Join(covers[ig], "; "), refs[t], t))
		}
	}
	return cascades
}

// checkRule checks a rule that covers fk: one that keeps rows pointing at
// a deleted parent row must move them off it first.
func (b *builder) checkRule(rule *Step, fk *catalog.FK, ref string, deleted map[*catalog.Table]bool) {
	col := rule.Match.Name
	if fk.Parent == b.subjectTable() && len(fk.ParentCols) == 1 && rule.Via == nil && fk.ParentCols[0] != b.root.Key.Column() {
		b.perr.Add(rule.Line, "rule for %s matches %s, which references %s(%s): add on: %s",
			rule.Table, col, fk.Parent, fk.ParentCols[0], fk.ParentCols[0])
		return
	}
	if rule.Action == policy.Delete || !deleted[fk.Parent] || fk.OnDelete == "n" || fk.OnDelete == "d" {
		return
	}
	// Null or another parent row (a placeholder account): the rows are
	// updated before the parent rows go, so nothing cascades to them and
	// nothing points at a deleted row.
	if !rule.detaches(fk) {
		b.perr.Add(rule.Line, "rule for %s (%s) must set %s to null or to another %s row's %s: %s and those rows are deleted",
			rule.Table, rule.Action, col, fk.Parent, rule.refName(fk), ref)
	}
}

// cascadeSteps returns the steps that count the rows of an ignored table
// that PostgreSQL removes by ON DELETE CASCADE: one per step that deletes
// parent rows. A multi-column key joins on every column.
func (b *builder) cascadeSteps(pl *Plan, steps []*Step, fk *catalog.FK, ig *policy.Ignore) []*Step {
	step := func() *Step {
		s := &Step{Table: fk.Child, Action: policy.Cascade, Match: fk.Child.Columns[fk.ChildCols[0]], FK: fk, Line: ig.Line}
		s.After = append(s.After, fmt.Sprintf("%s → %s %s", fk.Name, fk.Parent, fk.OnDeleteText()))
		return s
	}
	if len(fk.ChildCols) == 1 && fk.Parent == pl.Subject.Table && fk.ParentCols[0] == pl.Subject.Key.Name {
		return []*Step{step()}
	}
	var out []*Step
	for _, o := range steps {
		if o.Table == fk.Parent && o.Action == policy.Delete {
			s := step()
			s.Via, s.Ref = o, fk.Parent.Columns[fk.ParentCols[0]]
			for i := 1; i < len(fk.ChildCols); i++ {
				s.extra = append(s.extra, [2]*catalog.Column{fk.Child.Columns[fk.ChildCols[i]], fk.Parent.Columns[fk.ParentCols[i]]})
			}
			out = append(out, s)
		}
	}
	// When the parent's rows go by cascade too, or the FK points at another
	// column of the subject table, there is nothing to count them through:
	// PostgreSQL still removes them.
	return out
}

// refName is the column of fk's parent that the rule's match column
// refers to.
func (s *Step) refName(fk *catalog.FK) string {
	for i, c := range fk.ChildCols {
		if c == s.Match.Name {
			return fk.ParentCols[i]
		}
	}
	return fk.ParentCols[0]
}
