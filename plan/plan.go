package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// Plan is a policy checked against the catalog and put in execution order.
type Plan struct {
	// Policy is the policy the plan was built from by [Build]; nil from
	// [BuildFrom].
	Policy *policy.Policy
	// Ignore lists the ignore: entries the plan was built with.
	Ignore []policy.Ignore
	// Catalog is the catalog it was checked against.
	Catalog *catalog.Catalog
	// Subject describes the account table.
	Subject Subject
	// Steps are the table steps in execution order; the subject step is
	// not among them.
	Steps []*Step
	// Final is the step that removes or tombstones the subject row, last.
	Final *Step
	// Warnings are what lethe check prints without refusing the policy.
	Warnings []string
	// References are the policy's declared references (references:),
	// resolved: foreign-key edges with Declared set that the database
	// does not enforce.
	References []*catalog.FK
}

// Subject is the resolved subject section.
type Subject struct {
	// Table is the account table.
	Table *catalog.Table
	// Key, RequestedAt, Hold and PurgedAt are its columns; Hold and
	// PurgedAt may be nil.
	Key, RequestedAt, Hold, PurgedAt *catalog.Column
	// Grace is the grace period.
	Grace time.Duration
}

// Step is one set-based statement on one table for a batch of subjects.
type Step struct {
	// Table is the table the step acts on.
	Table *catalog.Table
	// Action is delete, anonymize, keep or cascade.
	Action policy.Action
	// Match is the column compared with the subject's key, or with Ref of
	// the Via step.
	Match *catalog.Column
	// Via is the step through which the rows reach the subject; nil for a
	// direct match.
	Via *Step
	// Ref is the column of Via's table that Match refers to.
	Ref *catalog.Column
	// On is the subject's column that Match holds, for a rule with on:;
	// Via is then a lookup of the subject row by key, and Ref is On.
	On *catalog.Column
	// Set lists the columns the step replaces.
	Set []SetColumn
	// Rule is the policy rule, nil for cascade and subject steps.
	Rule *policy.Rule
	// FK is the foreign key a cascade step follows.
	FK *catalog.FK
	// After lists why the step runs where it does: the foreign keys and
	// via links that order it.
	After []string
	// Line is the policy line the step comes from.
	Line int

	// earlier are the steps that run before this one and delete rows of
	// its table.
	earlier []*Step
	// extra are the further (column, Via's column) pairs of a
	// multi-column key, after Match and Ref.
	extra [][2]*catalog.Column
	// link is the multi-column key a via step or a rule with a match:
	// list follows, nil otherwise.
	link *catalog.FK
	// cols are the columns of a match: list, nil for one column.
	cols []*catalog.Column
}

// SetColumn is one resolved assignment.
type SetColumn struct {
	// Column is the column replaced.
	Column *catalog.Column
	// Value is the policy value.
	Value policy.Value
}

// String names the step for reports: table and action.
func (s *Step) String() string { return s.Table.String() + " " + string(s.Action) }

func (b *builder) table(id policy.Ident, line int, what string) *catalog.Table {
	t, ok := b.cat.Lookup(id)
	if !ok {
		b.perr.Add(line, "%s: %s", what, b.cat.Missing(id))
		return nil
	}
	return t
}

func (b *builder) column(t *catalog.Table, id policy.Ident, line int, what string) *catalog.Column {
	c, ok := t.Columns[id.Column()]
	if !ok {
		b.perr.Add(line, "%s: %s", what, t.MissingColumn(id.String()))
		return nil
	}
	return c
}

func (b *builder) build() *Plan {
	ps := b.root
	pl := &Plan{Catalog: b.cat, Ignore: b.rules.Ignore}
	st := b.table(ps.Table, ps.Line, "subject")
	if st == nil {
		return pl
	}
	sub := Subject{Table: st, Grace: time.Duration(ps.Grace)}
	sub.Key = b.column(st, ps.Key, ps.Line, "subject.key")
	sub.RequestedAt = b.column(st, ps.RequestedAt, ps.Line, "subject.requested_at")
	if !ps.Hold.IsZero() {
		sub.Hold = b.column(st, ps.Hold, ps.Line, "subject.hold")
	}
	if !ps.PurgedAt.IsZero() {
		sub.PurgedAt = b.column(st, ps.PurgedAt, ps.Line, "subject.purged_at")
	}
	if c := sub.Key; c != nil && c.Category != "S" && c.Category != "N" && c.Type != "uuid" {
		b.perr.Add(ps.Line, "subject.key %s is %s: lethe supports uuid, integer and text keys", c.Name, c.Type)
	}
	for _, c := range []*catalog.Column{sub.RequestedAt, sub.PurgedAt} {
		if c != nil && !strings.HasPrefix(c.Type, "timestamp") {
			b.perr.Add(ps.Line, "subject column %s is %s, want timestamp or timestamptz", c.Name, c.Type)
		}
	}
	if c := sub.Hold; c != nil && c.Type != "boolean" {
		b.perr.Add(ps.Line, "subject.hold %s is %s, want boolean", c.Name, c.Type)
	}
	pl.Subject = sub
	if sub.Key == nil {
		return pl
	}
	b.fks, pl.References = b.references()
	final := &Step{Table: st, Action: ps.Final, Match: sub.Key, Line: ps.Line}
	final.Set = b.setColumns(st, ps.Set, ps.Line, "subject")
	pl.Final = final

	steps := b.ruleSteps(pl)
	steps = b.linkVia(pl, steps)
	deleted := b.deletedTables(pl, steps)
	steps = append(steps, b.coverage(pl, steps, deleted)...)
	pl.Steps = b.order(pl, steps, deleted)
	linkEarlierDeletes(pl.Steps)
	return pl
}

// linkEarlierDeletes tells each step which earlier steps delete rows of its
// table: a row two rules match is gone when the later one runs, and its
// count (the dry run's) must not count it again.
func linkEarlierDeletes(steps []*Step) {
	for i, s := range steps {
		for _, e := range steps[:i] {
			if e.Table == s.Table && e.Action == policy.Delete {
				s.earlier = append(s.earlier, e)
			}
		}
	}
}

func (b *builder) ruleSteps(pl *Plan) []*Step {
	var steps []*Step
	for i := range b.rules.Tables {
		r := &b.rules.Tables[i]
		what := fmt.Sprintf("rule for %s", r.Table)
		t := b.table(r.Table, r.Line, what)
		if t == nil {
			continue
		}
		cols := b.matchColumns(t, r, what)
		if cols == nil {
			continue
		}
		m := cols[0]
		if t == pl.Subject.Table && m == pl.Subject.Key && len(cols) == 1 {
			b.perr.Add(r.Line, "%s matches the subject's own key: use subject.final for the subject row", what)
			continue
		}
		s := &Step{Table: t, Action: r.Action, Match: m, Rule: r, Line: r.Line}
		if len(cols) > 1 {
			s.cols = cols
		}
		s.Set = b.setColumns(t, r.Set, r.Line, what)
		steps = append(steps, s)
	}
	return steps
}

func (b *builder) setColumns(t *catalog.Table, set policy.Assignments, line int, what string) []SetColumn {
	var out []SetColumn
	for _, a := range set {
		c := b.column(t, a.Column, a.Line, what+" set")
		if c == nil {
			continue
		}
		switch {
		case a.Value.Kind == policy.Null && c.NotNull:
			b.perr.Add(a.Line, "%s sets %s to null, but the column is NOT NULL", what, c.Name)
		case a.Value.Kind == policy.Pseudonym && !c.Textual():
			b.perr.Add(a.Line, "%s sets %s to a pseudonym, but the column is %s (pseudonyms are text)", what, c.Name, c.Type)
		}
		out = append(out, SetColumn{Column: c, Value: a.Value})
	}
	return out
}

// compatible reports whether values of col can be compared with values of
// ref: the same type, or col holds text (compared as text).
func compatible(col, ref *catalog.Column) bool {
	return col.Type == ref.Type || col.Textual() || (col.Category == "N" && ref.Category == "N")
}

func (b *builder) linkVia(pl *Plan, steps []*Step) []*Step {
	var more []*Step // a via rule's steps for its parent's further delete rules
	for _, s := range steps {
		r := s.Rule
		what := fmt.Sprintf("rule for %s", r.Table)
		if !r.On.IsZero() {
			b.linkOn(pl, s)
			continue
		}
		if r.Via.IsZero() && s.cols != nil {
			b.linkKey(pl, s, s.cols)
			continue
		}
		if r.Via.IsZero() {
			if key := b.subjectKey(); key != nil && !compatible(s.Match, key) {
				b.perr.Add(r.Line, "%s: match column %s is %s, but the subject key is %s", what, s.Match.Name, s.Match.Type, key.Type)
			}
			continue
		}
		vt := b.table(r.Via, r.Line, what+" via")
		if vt == nil {
			continue
		}
		via, cands := viaRules(steps, s, vt)
		// via: the rule's own table follows a self-referencing key (a
		// reply to a deleted comment): the other rules on it are the
		// parents, and s runs before them.
		switch {
		case len(cands) == 0:
			b.perr.Add(r.Line, "%s: via %s, but no rule covers %s (it must say how %s reaches the subject)", what, vt, vt, vt)
			continue
		case len(via) == 0:
			b.perr.Add(r.Line, "%s: via %s with via_match %s, but no rule for %s matches %s (they match %s)",
				what, vt, r.ViaMatch, vt, r.ViaMatch, matchNames(cands))
			continue
		case len(via) > 1:
			// Only rows a delete rule removes take their children with
			// them: follow the delete rules when via_match does not say.
			var del []*Step
			for _, o := range via {
				if o.Action == policy.Delete {
					del = append(del, o)
				}
			}
			if len(del) == 0 {
				b.perr.Add(r.Line, "%s: via %s is ambiguous, %d rules cover %s (match %s) and none deletes: say which with via_match:",
					what, vt, len(via), vt, matchNames(via))
				continue
			}
			// Rows whose parent any delete rule removes go: one step
			// per delete rule.
			via = del
		}
		s.Via = via[0]
		s.Ref = b.viaRef(s, vt)
		if s.Ref == nil && s.cols != nil {
			b.perr.Add(r.Line, "%s: via %s does not link: no foreign key or declared reference from %s (%s) to %s",
				what, vt, s.Table, columnNames(s.cols), vt)
			continue
		}
		if s.Ref == nil {
			b.perr.Add(r.Line, "%s: via %s does not link: no foreign key from %s.%s to %s and %s has no single-column primary key",
				what, vt, s.Table, s.Match.Name, vt, vt)
			continue
		}
		if !compatible(s.Match, s.Ref) {
			b.perr.Add(r.Line, "%s: %s is %s but %s.%s is %s", what, s.Match.Name, s.Match.Type, vt, s.Ref.Name, s.Ref.Type)
		}
		s.After = append(s.After, fmt.Sprintf("reaches the subject via %s", vt))
		for _, o := range via[1:] {
			more = append(more, cloneVia(s, o))
		}
	}
	steps = append(steps, expandVia(steps, more)...)
	// A via chain that loops never reaches the subject.
	for _, s := range steps {
		seen := map[*Step]bool{}
		for v := s; v != nil; v = v.Via {
			if seen[v] {
				b.perr.Add(s.Line, "rule for %s: via chain loops back to %s", s.Table, v.Table)
				s.Via = nil
				break
			}
			seen[v] = true
		}
	}
	return steps
}

// cloneVia returns a copy of s that reaches the subject through the
// parent step via.
func cloneVia(s, via *Step) *Step {
	c := *s
	c.Via, c.After = via, append([]string{}, s.After...)
	return &c
}

// expandVia returns more, the steps of via rules for their parents'
// further delete rules, and the steps their own children need in turn: a
// child of rows reached through two paths is reached through both.
func expandVia(steps, more []*Step) []*Step {
	orig := map[*Step]bool{}
	for _, s := range steps {
		orig[s] = true
	}
	children := append(append([]*Step{}, steps...), more...)
	out := append([]*Step{}, more...)
	for i := 0; i < len(out) && len(out) < 64*(len(steps)+1); i++ {
		parent := out[i] // a copy of its rule's step, through another parent
		for _, x := range children {
			if x.Via != nil && orig[x.Via] && x.Via.Rule == parent.Rule && x.Via != parent {
				out = append(out, cloneVia(x, parent))
			}
		}
	}
	return out
}

func (b *builder) subjectKey() *catalog.Column {
	t, ok := b.cat.Lookup(b.root.Table)
	if !ok {
		return nil
	}
	return t.Columns[b.root.Key.Column()]
}

// viaRef finds the column of vt that s.Match refers to: through a foreign
// key (or declared reference) when one exists, a multi-column one by all
// its columns, else vt's single-column primary key.
func (b *builder) viaRef(s *Step, vt *catalog.Table) *catalog.Column {
	if s.cols != nil {
		// match: lists the columns: they name the key.
		fk := findLink(b.fks, s.Table, vt, s.cols)
		if fk == nil {
			return nil
		}
		primary := ""
		if len(vt.PK) == 1 {
			primary = vt.PK[0]
		}
		s.bind(fk, primary)
		return s.Ref
	}
	for _, fk := range b.fks {
		if fk.Child == s.Table && fk.Parent == vt && len(fk.ChildCols) == 1 && fk.ChildCols[0] == s.Match.Name {
			return vt.Columns[fk.ParentCols[0]]
		}
	}
	// A multi-column key that holds the match column links by all of its
	// columns: (partition_id, project_id) → projects (partition_id, id).
	for _, fk := range b.fks {
		if fk.Child != s.Table || fk.Parent != vt || len(fk.ChildCols) < 2 {
			continue
		}
		for i, c := range fk.ChildCols {
			if c != s.Match.Name {
				continue
			}
			for j := range fk.ChildCols {
				if j != i {
					s.extra = append(s.extra, [2]*catalog.Column{s.Table.Columns[fk.ChildCols[j]], vt.Columns[fk.ParentCols[j]]})
				}
			}
			s.link = fk
			return vt.Columns[fk.ParentCols[i]]
		}
	}
	if len(vt.PK) == 1 {
		return vt.Columns[vt.PK[0]]
	}
	return nil
}

// deletedTables returns the tables some of whose rows the purge removes:
// the subject table with final: delete, every delete rule's table, and
// tables whose rows follow them by ON DELETE CASCADE.
func (b *builder) deletedTables(pl *Plan, steps []*Step) map[*catalog.Table]bool {
	del := map[*catalog.Table]bool{}
	if pl.Final.Action == policy.Delete {
		del[pl.Subject.Table] = true
	}
	for _, s := range steps {
		if s.Action == policy.Delete {
			del[s.Table] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, fk := range b.fks {
			if fk.OnDelete == "c" && del[fk.Parent] && !del[fk.Child] && !b.ruleDetaches(steps, fk) {
				del[fk.Child] = true
				changed = true
			}
		}
	}
	return del
}

// ruleDetaches reports whether a rule on fk's child table sets its column
// to null or to another parent row before the parent rows go, which stops
// the cascade.
func (b *builder) ruleDetaches(steps []*Step, fk *catalog.FK) bool {
	for _, s := range steps {
		if s.covers(fk) && s.detaches(fk) {
			return true
		}
	}
	return false
}
