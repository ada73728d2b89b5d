package purge

import (
	"fmt"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// A verification statement takes $1, the subjects' keys, and $2: for a
// step's own count statement, empty pseudonym suffixes; for a value check,
// each subject's value of a subject column, read in the batch before the
// subject row changed (NULL when it had none).

// valueCheck returns a statement that counts, per subject, the rows of t
// whose column col still holds the subject's value in $2.
func valueCheck(t *catalog.Table, col *catalog.Column) plan.Statement {
	return plan.Statement{SQL: fmt.Sprintf(
		"SELECT p.k, count(*) FROM %s t JOIN unnest($1::text[], $2::text[]) AS p(k, v) ON t.%s = p.v::%s WHERE t.%s = ANY($2::text[]::%s[]) GROUP BY 1",
		t.Ident(), col.Ident(), col.Type, col.Ident(), col.Type)}
}

// verifyValues adds the checks that need values read before the erasure:
// on: rules whose rows the purge removes or whose match column it
// replaces, and declared references into the subject table, which no
// foreign key keeps from pointing at an erased subject. It returns the
// subject columns whose values the batch must read.
func (q *queries) verifyValues(pl *plan.Plan) []string {
	var cols []string
	seen := map[string]bool{}
	for _, st := range pl.Steps {
		if st.On != nil && removesMatch(st) {
			q.addValueCheck(st.Table, st.Match, st.On, pl, seen)
			cols = appendNew(cols, st.On.Name)
		}
	}
	for _, st := range pl.Steps {
		if st.Via == nil && removesMatch(st) {
			seen[st.Table.String()+"."+st.Match.Name+"="+pl.Subject.Key.Name] = true
		}
	}
	for _, fk := range pl.References {
		if fk.Parent != pl.Subject.Table || len(fk.ChildCols) != 1 {
			continue
		}
		target := pl.Subject.Table.Columns[fk.ParentCols[0]]
		if pl.Final.Action != policy.Delete && !finalSets(pl, target) {
			continue // the subject row keeps its key: rows may point at it
		}
		if q.addValueCheck(fk.Child, fk.Child.Columns[fk.ChildCols[0]], target, pl, seen) && target != pl.Subject.Key {
			cols = appendNew(cols, target.Name)
		}
	}
	return cols
}

// addValueCheck adds the check of t.col against the subject's on column,
// unless one is there already; it reports whether it added one.
func (q *queries) addValueCheck(t *catalog.Table, col, on *catalog.Column, pl *plan.Plan, seen map[string]bool) bool {
	id := t.String() + "." + col.Name + "=" + on.Name
	if seen[id] {
		return false
	}
	seen[id] = true
	what := t.String() + "." + col.Name
	if on != pl.Subject.Key {
		what += fmt.Sprintf(" (the subject's %s)", on.Name)
	}
	q.verify = append(q.verify, valueCheck(t, col))
	q.verifyOf = append(q.verifyOf, &plan.Step{Table: t, Match: col, On: on})
	q.searched = append(q.searched, what)
	return true
}

// removesMatch reports whether after the step no row may hold the value it
// matched: its rows are deleted, or its match column replaced.
func removesMatch(st *plan.Step) bool {
	if st.Action == policy.Delete {
		return true
	}
	for _, sc := range st.Set {
		if sc.Column == st.Match {
			return true
		}
	}
	return false
}

func finalSets(pl *plan.Plan, c *catalog.Column) bool {
	for _, sc := range pl.Final.Set {
		if sc.Column == c {
			return true
		}
	}
	return false
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// verifyArgs returns $2 of verification statement i: the subjects' values
// of the statement's subject column, or empty pseudonym suffixes.
func (q *queries) verifyArgs(i int, subs []Subject, key string) []*string {
	st := q.verifyOf[i]
	out := make([]*string, len(subs))
	for n, s := range subs {
		switch {
		case st.On == nil:
			out[n] = new(string)
		case st.On.Name == key:
			out[n] = &s.Key
		default:
			if v, ok := s.Row[st.On.Name]; ok {
				out[n] = &v
			}
		}
	}
	return out
}
