package plan

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// order sorts the steps so that every step runs before the steps it
// depends on being still undone: a step that reaches the subject through a
// via table before any step on that table, and every step on a table that
// references a table whose rows are deleted before that delete. Ties keep
// the policy's order. A cycle is a policy problem.
func (b *builder) order(pl *Plan, steps []*Step, deleted map[*catalog.Table]bool) []*Step {
	n := len(steps)
	before := make([]map[int]string, n) // before[j][i]: i must run before j, and why
	for i := range before {
		before[i] = map[int]string{}
	}
	for i, s := range steps {
		if s.Via != nil && s.On == nil {
			for j, o := range steps {
				// Two rules that each follow a self-referencing key of
				// the same table need no order between them.
				selfPair := s.Table == s.Via.Table && o.Via != nil && o.Via.Table == o.Table
				if o.Table == s.Via.Table && i != j && !selfPair {
					before[j][i] = fmt.Sprintf("%s reaches the subject through %s", s.Table, o.Table)
				}
			}
		}
	}
	for _, fk := range b.fks {
		if !deleted[fk.Parent] || fk.Child == fk.Parent {
			continue
		}
		for j, d := range steps {
			if d.Table != fk.Parent || d.Action != policy.Delete {
				continue
			}
			for i, c := range steps {
				if c.Table == fk.Child && i != j {
					before[j][i] = fmt.Sprintf("%s (%s.%s → %s, %s)", fk.Name, fk.Child, strings.Join(fk.ChildCols, ","), fk.Parent, fk.OnDeleteText())
				}
			}
		}
		if fk.Parent == pl.Subject.Table && pl.Final.Action == policy.Delete {
			pl.Final.After = appendOnce(pl.Final.After, fmt.Sprintf("%s (%s.%s → %s)", fk.Name, fk.Child, strings.Join(fk.ChildCols, ","), fk.Parent))
		}
	}
	done := make([]bool, n)
	var out []*Step
	for len(out) < n {
		picked := -1
		for j := 0; j < n && picked < 0; j++ {
			if done[j] {
				continue
			}
			ready := true
			for i := range before[j] {
				if !done[i] {
					ready = false
					break
				}
			}
			if ready {
				picked = j
			}
		}
		if picked < 0 {
			var cycle []string
			for j := 0; j < n; j++ {
				if !done[j] {
					for i, why := range before[j] {
						if !done[i] {
							cycle = append(cycle, fmt.Sprintf("%s before %s: %s", steps[i], steps[j], why))
						}
					}
				}
			}
			b.perr.Add(0, "the steps cannot be ordered, the foreign keys form a cycle:\n    %s", strings.Join(cycle, "\n    "))
			return steps
		}
		done[picked] = true
		s := steps[picked]
		for i, why := range before[picked] {
			s.After = appendOnce(s.After, fmt.Sprintf("after %s: %s", steps[i], why))
		}
		out = append(out, s)
	}
	return out
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// checkValues asks the server whether each literal in a set fits its
// column's type, so that a wrong literal is a policy error and not a failed
// batch.
func (b *builder) checkValues(pl *Plan) error {
	all := append([]*Step{pl.Final}, pl.Steps...)
	for _, s := range all {
		if s == nil {
			continue // the subject did not resolve
		}
		for _, sc := range s.Set {
			if sc.Value.Kind == policy.Null {
				b.checkConstraints(s, sc)
			}
			if sc.Value.Kind != policy.Literal {
				continue
			}
			var ok bool
			err := b.q.QueryRow(b.ctx, "SELECT $1::text::"+sc.Column.Type+" IS NOT NULL", sc.Value.Text).Scan(&ok)
			if err != nil {
				b.perr.Add(s.Line, "%s sets %s to %q, which is not a valid %s: %s", s.Table, sc.Column.Name, sc.Value.Text, sc.Column.Type, pgMessage(err))
				continue
			}
			b.checkParentRow(s, sc)
			b.checkConstraints(s, sc)
		}
	}
	return nil
}

// checkParentRow refuses a literal that reassigns a referencing column (a
// placeholder account, "ghost user") to a row its parent table does not
// have: the update would fail the foreign key (or, for a declared
// reference, point at nothing).
func (b *builder) checkParentRow(s *Step, sc SetColumn) {
	for _, fk := range b.fks {
		if fk.Child != s.Table || len(fk.ChildCols) != 1 || fk.ChildCols[0] != sc.Column.Name {
			continue
		}
		pc := fk.Parent.Columns[fk.ParentCols[0]]
		var ok bool
		err := b.q.QueryRow(b.ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s = $1::text::%s)", fk.Parent.Ident(), pc.Ident(), pc.Type),
			sc.Value.Text).Scan(&ok)
		switch {
		case err != nil:
			b.perr.Add(s.Line, "rule for %s sets %s to %q: %s", s.Table, sc.Column.Name, sc.Value.Text, pgMessage(err))
		case !ok:
			b.perr.Add(s.Line, "rule for %s sets %s to %s, but %s has no row with %s = %s: the update would fail",
				s.Table, sc.Column.Name, sc.Value.Text, fk.Parent, pc.Name, sc.Value.Text)
		}
	}
}
