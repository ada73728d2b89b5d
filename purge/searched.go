package purge

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// A verification statement takes $1, the subjects' keys, and $2: for a
// step's own count statement, empty pseudonym suffixes; for a value check,
// each subject's value of a subject column, read in the batch before the
// subject row changed (NULL when it had none).

// valueCheck returns a statement that counts, per subject, the rows of t
// whose columns cols still hold the subject's values, $2 onwards in the
// order of cols. Its WHERE names one column's values as an array so that
// an index on it is used: the column that holds the subject's key when
// one does (on lists on's subject columns), else the first.
func valueCheck(t *catalog.Table, cols, on []*catalog.Column, key *catalog.Column) plan.Statement {
	var params, names, join []string
	lead := 0
	for i, c := range cols {
		params = append(params, fmt.Sprintf("$%d::text[]", i+2))
		names = append(names, fmt.Sprintf("v%d", i))
		join = append(join, fmt.Sprintf("t.%s = p.v%d::%s", c.Ident(), i, c.Type))
		if on[i] == key {
			lead = i
		}
	}
	c := cols[lead]
	return plan.Statement{SQL: fmt.Sprintf(
		"SELECT p.k, count(*) FROM %s t JOIN unnest($1::text[], %s) AS p(k, %s) ON %s WHERE t.%s = ANY($%d::text[]::%s[]) GROUP BY 1",
		t.Ident(), strings.Join(params, ", "), strings.Join(names, ", "), strings.Join(join, " AND "), c.Ident(), lead+2, c.Type)}
}

// verifyValues adds the checks that need values read before the erasure:
// on: rules and rules with a match: list into the subject table whose rows
// the purge removes or whose match columns it replaces, and declared
// references into the subject table (of one column or several), which no
// foreign key keeps from pointing at an erased subject. It returns the
// subject columns whose values the batch must read.
func (q *queries) verifyValues(pl *plan.Plan) []string {
	var cols []string
	seen := map[string]bool{}
	need := func(on []*catalog.Column) {
		for _, c := range on {
			if c != pl.Subject.Key {
				cols = appendNew(cols, c.Name)
			}
		}
	}
	for _, st := range pl.Steps {
		if st.On != nil && removesMatch(st) {
			match, on := st.Link()
			q.addValueCheck(st.Table, match, on, pl, seen)
			need(on)
		}
	}
	for _, st := range pl.Steps {
		if st.Via == nil && removesMatch(st) {
			seen[valueID(st.Table, []*catalog.Column{st.Match}, []*catalog.Column{pl.Subject.Key})] = true
		}
	}
	for _, fk := range pl.References {
		if fk.Parent != pl.Subject.Table {
			continue
		}
		var match, on []*catalog.Column
		sets := false
		for i := range fk.ChildCols {
			match = append(match, fk.Child.Columns[fk.ChildCols[i]])
			on = append(on, pl.Subject.Table.Columns[fk.ParentCols[i]])
			sets = sets || finalSets(pl, on[i])
		}
		if pl.Final.Action != policy.Delete && !sets {
			continue // the subject row keeps its key: rows may point at it
		}
		if q.addValueCheck(fk.Child, match, on, pl, seen) {
			need(on)
		}
	}
	return cols
}

func valueID(t *catalog.Table, cols, on []*catalog.Column) string {
	id := t.String()
	for i, c := range cols {
		id += "." + c.Name + "=" + on[i].Name
	}
	return id
}

// addValueCheck adds the check of t's columns cols against the subject's
// columns on, unless one is there already; it reports whether it added
// one.
func (q *queries) addValueCheck(t *catalog.Table, cols, on []*catalog.Column, pl *plan.Plan, seen map[string]bool) bool {
	id := valueID(t, cols, on)
	if seen[id] {
		return false
	}
	seen[id] = true
	var names, subj []string
	for i, c := range cols {
		names = append(names, c.Name)
		subj = append(subj, on[i].Name)
	}
	what := t.String() + "." + names[0]
	if len(cols) > 1 {
		what = fmt.Sprintf("%s.(%s)", t, strings.Join(names, ", "))
	}
	if len(on) > 1 || on[0] != pl.Subject.Key {
		what += fmt.Sprintf(" (the subject's %s)", strings.Join(subj, ", "))
	}
	q.verify = append(q.verify, valueCheck(t, cols, on, pl.Subject.Key))
	q.verifyOf = append(q.verifyOf, &plan.Step{Table: t, Match: cols[0], On: on[0]})
	q.verifyOn = append(q.verifyOn, on)
	q.searched = append(q.searched, what)
	return true
}

// removesMatch reports whether after the step no row may hold the value it
// matched: its rows are deleted, or its match column replaced.
func removesMatch(st *plan.Step) bool {
	if st.Action == policy.Delete {
		return true
	}
	cols, _ := st.Link()
	for _, sc := range st.Set {
		for _, c := range cols {
			if sc.Column == c {
				return true
			}
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

// verifyArgs returns the arguments after $1 of verification statement i:
// for a value check, the subjects' values of each of its subject columns,
// read in the batch before the subject row changed (NULL when it had
// none); for a step's own count statement, empty pseudonym suffixes.
func (q *queries) verifyArgs(i int, subs []Subject, key string) []any {
	on := q.verifyOn[i]
	if len(on) == 0 {
		out := make([]*string, len(subs))
		for n := range subs {
			out[n] = new(string)
		}
		return []any{out}
	}
	var args []any
	for _, c := range on {
		out := make([]*string, len(subs))
		for n, s := range subs {
			if c.Name == key {
				out[n] = &s.Key
			} else if v, ok := s.Row[c.Name]; ok {
				out[n] = &v
			}
		}
		args = append(args, out)
	}
	return args
}
