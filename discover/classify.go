package discover

import (
	"fmt"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// Coverage says what a policy classifies, read against a catalog: which
// columns a rule matches (directly or via), a references: entry declares,
// an ignore: entry names, and which columns' personal data a delete or a
// set: handles. Names that do not resolve are left to the planner's
// problems.
type Coverage struct {
	cat     *catalog.Catalog
	pol     *policy.Policy
	subject *catalog.Table
	key     *catalog.Column
	// Deleted holds the tables some of whose rows the purge deletes: the
	// subject's with final: delete, each delete rule's, and those that
	// follow them by ON DELETE CASCADE.
	Deleted map[*catalog.Table]bool
	matched map[colKey]string // how a reference column is classified
	set     map[colKey]bool   // columns a set: replaces
	ignored map[*catalog.Table][]*policy.Ignore
	used    map[*policy.Ignore]bool
}

type colKey struct {
	t   *catalog.Table
	col string
}

// NewCoverage reads pol against cat. It returns nil when the subject
// table or key does not resolve.
func NewCoverage(cat *catalog.Catalog, pol *policy.Policy) *Coverage {
	st, ok := cat.Lookup(pol.Subject.Table)
	if !ok || st.Columns[pol.Subject.Key.Column()] == nil {
		return nil
	}
	c := &Coverage{cat: cat, pol: pol, subject: st, key: st.Columns[pol.Subject.Key.Column()],
		Deleted: map[*catalog.Table]bool{}, matched: map[colKey]string{}, set: map[colKey]bool{},
		ignored: map[*catalog.Table][]*policy.Ignore{}, used: map[*policy.Ignore]bool{}}
	if pol.Subject.Final == "" || pol.Subject.Final == policy.Delete {
		c.Deleted[st] = true
	}
	for _, a := range pol.Subject.Set {
		c.set[colKey{st, a.Column.Column()}] = true
	}
	for _, r := range pol.Tables {
		t, ok := cat.Lookup(r.Table)
		if !ok {
			continue
		}
		for _, m := range r.Match.Columns() {
			c.matched[colKey{t, m.Column()}] = fmt.Sprintf("the rule at line %d", r.Line)
		}
		if r.Action == policy.Delete {
			c.Deleted[t] = true
		}
		for _, a := range r.Set {
			c.set[colKey{t, a.Column.Column()}] = true
		}
	}
	for _, r := range pol.References {
		t, ok := cat.Lookup(r.Table)
		if !ok {
			continue
		}
		for _, col := range r.From() {
			if _, done := c.matched[colKey{t, col.Column()}]; !done {
				c.matched[colKey{t, col.Column()}] = fmt.Sprintf("the reference at line %d", r.Line)
			}
		}
	}
	for i := range pol.Ignore {
		ig := &pol.Ignore[i]
		if t, ok := cat.Lookup(ig.Table); ok {
			c.ignored[t] = append(c.ignored[t], ig)
		}
	}
	for changed := true; changed; {
		changed = false
		for _, fk := range cat.FKs {
			if fk.OnDelete == "c" && c.Deleted[fk.Parent] && !c.Deleted[fk.Child] {
				c.Deleted[fk.Child], changed = true, true
			}
		}
	}
	return c
}

// Subject returns the subject table and key as a discovery target.
func (c *Coverage) Subject() Target { return Target{c.subject, c.key} }

// DeletedTargets lists the deleted tables other than the subject's that
// have a single-column primary key, as discovery targets.
func (c *Coverage) DeletedTargets() []Target {
	var out []Target
	for _, t := range c.cat.Tables() {
		if c.Deleted[t] && t != c.subject && len(t.PK) == 1 {
			out = append(out, Target{t, t.Columns[t.PK[0]]})
		}
	}
	return out
}

// ignore returns the ignore entry that names t (and col, when the entry
// names a column), and marks it used.
func (c *Coverage) ignore(t *catalog.Table, col string) *policy.Ignore {
	for _, ig := range c.ignored[t] {
		if ig.Column.IsZero() || ig.Column.Column() == col {
			c.used[ig] = true
			return ig
		}
	}
	return nil
}

// Reference says how the policy classifies a reference from t.col, or ""
// when it does not.
func (c *Coverage) Reference(t *catalog.Table, col string) string {
	if how, ok := c.matched[colKey{t, col}]; ok {
		return how
	}
	if ig := c.ignore(t, col); ig != nil {
		return fmt.Sprintf("the ignore entry at line %d", ig.Line)
	}
	return ""
}

// Handled reports whether the purge handles the personal data in t.col:
// its rows are deleted or a set: replaces it. Discovery need not sample
// such columns.
func (c *Coverage) Handled(t *catalog.Table, col string) bool {
	return c.Deleted[t] || c.set[colKey{t, col}]
}

// Personal says how the policy classifies the personal data in t.col: it
// is handled (see Handled) or an ignore entry names it; "" when neither.
func (c *Coverage) Personal(t *catalog.Table, col string) string {
	if c.Handled(t, col) {
		return "handled"
	}
	if ig := c.ignore(t, col); ig != nil {
		return fmt.Sprintf("the ignore entry at line %d", ig.Line)
	}
	return ""
}

// UseFKs marks the ignore entries that cover a foreign key into the
// subject or a deleted table as used.
func (c *Coverage) UseFKs() {
	for _, fk := range c.cat.FKs {
		if fk.Parent == c.subject || c.Deleted[fk.Parent] {
			col := ""
			if len(fk.ChildCols) == 1 {
				col = fk.ChildCols[0]
			}
			c.ignore(fk.Child, col)
		}
	}
}

// Stale lists the ignore entries that matched nothing so far: no foreign
// key, discovered candidate or personal column. Call it after UseFKs and
// after classifying every candidate.
func (c *Coverage) Stale() []*policy.Ignore {
	var out []*policy.Ignore
	for i := range c.pol.Ignore {
		ig := &c.pol.Ignore[i]
		if _, ok := c.cat.Lookup(ig.Table); ok && !c.used[ig] {
			out = append(out, ig)
		}
	}
	return out
}
