package draft

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/discover"
	"github.com/lethe-project/lethe/policy"
)

// Discoverer runs discovery for the subject and the tables the draft
// deletes so far (see discover.Find); without sample, by names and types
// only.
type Discoverer func(ctx context.Context, deleted []discover.Target, sample bool) (*discover.Result, error)

// Input is what a draft is written from.
type Input struct {
	// Catalog is the live catalog.
	Catalog *catalog.Catalog
	// Subject is the account table and its key.
	Subject discover.Target
	// Discover finds references and personal data no foreign key declares;
	// nil to leave discovery out.
	Discover Discoverer
}

// Ignore is one ignore: entry of a draft.
type Ignore struct {
	// Table and Column name what is ignored; Column may be "".
	Table  *catalog.Table
	Column string
	// Columns name the columns of a multi-column key, instead of Column.
	Columns []string
	// Reason is the entry's reason.
	Reason string
	// Review says what a person must decide.
	Review string
}

// Draft is a policy under construction.
type Draft struct {
	in      Input
	Rules   []*Rule
	Ignores []Ignore
	// Subject's columns: requested_at, hold; Placeholder is true when no
	// deletion-request column was found.
	RequestedAt, Hold string
	Placeholder       bool
	deleted           map[*catalog.Table]bool
	fkDone            map[*catalog.FK]bool
	colDone           map[[2]any]bool
	// Discovery says how the draft's discovery went, for its header.
	Discovery *discover.Result
}

var subjectNames = []string{"users", "user", "accounts", "account", "people", "persons", "members", "customers", "profiles"}

// GuessSubject picks the account table: among the usual names, the one
// most foreign keys point at; "" when there is none.
func GuessSubject(cat *catalog.Catalog) *catalog.Table {
	in := map[*catalog.Table]int{}
	for _, fk := range cat.FKs {
		in[fk.Parent]++
	}
	var best *catalog.Table
	for _, t := range cat.Tables() {
		for _, n := range subjectNames {
			if strings.EqualFold(t.Name, n) && len(t.PK) == 1 && (best == nil || in[t] > in[best]) {
				best = t
			}
		}
	}
	return best
}

var requestedNames = regexp.MustCompile(`^(deletion_requested_at|delete_requested_at|deletion_requested_on|erasure_requested_at|deleted_at|.*delet.*|.*_removed_at|.*erase.*)$`)

// New builds a draft: the foreign-key graph from the subject, then what
// discovery adds, until nothing changes (at most three rounds).
func New(ctx context.Context, in Input) (*Draft, error) {
	d := &Draft{in: in, deleted: map[*catalog.Table]bool{in.Subject.Table: true}, fkDone: map[*catalog.FK]bool{}, colDone: map[[2]any]bool{}}
	d.subjectColumns()
	// The first round samples; later ones, for the tables the first
	// round's rules delete, look at names only: the samples cost most.
	for round := 0; round < 3; round++ {
		d.followFKs()
		if in.Discover == nil {
			break
		}
		res, err := in.Discover(ctx, d.deletedTargets(), round == 0)
		if err != nil {
			return nil, err
		}
		if round == 0 {
			d.Discovery = res
		}
		if !d.addReferences(res) {
			break
		}
	}
	d.followFKs()
	if d.Discovery != nil {
		for _, c := range d.Discovery.Candidates {
			if c.Kind == discover.Personal && !d.colDone[[2]any{c.Table, c.Column.Name}] {
				d.personal(c)
			}
		}
	}
	d.resolveVia()
	return d, nil
}

func (d *Draft) subjectColumns() {
	t := d.in.Subject.Table
	var fallback string
	for _, name := range t.ColumnOrder {
		c := t.Columns[name]
		if strings.HasPrefix(c.Type, "timestamp") {
			if d.RequestedAt == "" && requestedNames.MatchString(strings.ToLower(name)) {
				d.RequestedAt = name
			}
			if fallback == "" || strings.Contains(name, "created") {
				fallback = name
			}
		}
		if c.Type == "boolean" && d.Hold == "" && strings.Contains(strings.ToLower(name), "hold") {
			d.Hold = name
		}
	}
	if d.RequestedAt == "" {
		d.RequestedAt, d.Placeholder = fallback, true
	}
}

func (d *Draft) deletedTargets() []discover.Target {
	var out []discover.Target
	for _, t := range d.in.Catalog.Tables() {
		if d.deleted[t] && t != d.in.Subject.Table && len(t.PK) == 1 {
			out = append(out, discover.Target{Table: t, Key: t.Columns[t.PK[0]]})
		}
	}
	return out
}

// addRule records r unless its table and column already have one, and
// marks its table deleted when it deletes.
func (d *Draft) addRule(r Rule) bool {
	k := [2]any{r.Table, r.Match}
	if d.colDone[k] {
		return false
	}
	d.colDone[k] = true
	d.Rules = append(d.Rules, &r)
	if r.Action == policy.Delete {
		d.deleted[r.Table] = true
	}
	return true
}

func (d *Draft) addIgnore(ig Ignore) {
	d.colDone[[2]any{ig.Table, ig.Column}] = true
	d.Ignores = append(d.Ignores, ig)
}

// followFKs adds a rule (or an ignore entry) for every foreign key into
// a table the draft deletes, until no new table is deleted.
func (d *Draft) followFKs() {
	for changed := true; changed; {
		changed = false
		for _, fk := range d.in.Catalog.FKs {
			if d.fkDone[fk] || !d.deleted[fk.Parent] {
				continue
			}
			d.fkDone[fk], changed = true, true
			d.followFK(fk)
		}
	}
}

func (d *Draft) followFK(fk *catalog.FK) {
	sub := d.in.Subject.Table
	cols := strings.Join(fk.ChildCols, ", ")
	switch {
	case len(fk.ChildCols) != 1 && fk.OnDelete == "c":
		d.deleted[fk.Child] = true
		d.addIgnore(Ignore{Table: fk.Child, Columns: fk.ChildCols,
			Reason: fmt.Sprintf("rows go by ON DELETE CASCADE with their parent %s row (%s)", fk.Parent, fk.Name)})
		return
	case len(fk.ChildCols) != 1 && fk.Parent == sub:
		// A multi-column key into the subject: the rule names every
		// column of it.
		r := Suggest(fk.Child, multiMatch(fk), fk, nil)
		r.Columns = fk.ChildCols
		r.Review = fmt.Sprintf("through %s (%s → %s): %s", fk.Name, cols, fk.Parent, r.Review)
		d.addRule(r)
	case len(fk.ChildCols) != 1:
		// A via: through a multi-column key joins on every column of it;
		// the rule matches on the column that names the parent row.
		r := Suggest(fk.Child, multiMatch(fk), fk, fk.Parent)
		r.Review = fmt.Sprintf("through %s (%s → %s): %s", fk.Name, cols, fk.Parent, r.Review)
		d.addRule(r)
	case fk.Child == fk.Parent && fk.Child != sub:
		if fk.OnDelete == "c" {
			d.addIgnore(Ignore{Table: fk.Child, Column: cols, Reason: fmt.Sprintf("rows go by ON DELETE CASCADE from their parent %s row", fk.Parent)})
			return
		}
		if fk.OnDelete == "n" || fk.OnDelete == "d" {
			d.addIgnore(Ignore{Table: fk.Child, Column: cols, Reason: fmt.Sprintf("%s points at another %s row, %s", cols, fk.Parent, fk.OnDeleteText())})
			return
		}
		r := Suggest(fk.Child, cols, fk, fk.Parent)
		if c := fk.Child.Columns[cols]; c != nil && !c.NotNull {
			r.Action, r.Set = policy.Anonymize, [][2]string{{cols, "null"}}
		}
		r.Review = fmt.Sprintf("%s rows that point at a deleted %s row (%s, %s) must let go first, or deleting it fails", fk.Child, fk.Parent, fk.Name, fk.OnDeleteText())
		d.addRule(r)
	case fk.Parent == sub:
		d.addRule(Suggest(fk.Child, cols, fk, nil))
	default:
		d.addRule(Suggest(fk.Child, cols, fk, fk.Parent))
	}
	if fk.OnDelete == "c" {
		d.deleted[fk.Child] = true
	}
}

// addReferences adds a rule for each discovered reference (an ignore
// entry when few sampled values are keys); it reports whether a table is
// newly deleted.
func (d *Draft) addReferences(res *discover.Result) bool {
	before := len(d.deleted)
	for _, c := range res.Candidates {
		col := c.Column.Name
		if c.Kind != discover.Reference || d.colDone[[2]any{c.Table, col}] {
			continue
		}
		if conf := c.Confidence(); conf >= 0 && conf < 0.5 {
			d.addIgnore(Ignore{Table: c.Table, Column: col, Reason: "discovered: " + c.Evidence(),
				Review: fmt.Sprintf("few sampled values are %s keys: a reference (add a rule) or not (keep this entry)?", c.To)})
			continue
		}
		var via *catalog.Table
		if c.To != d.in.Subject.Table {
			via = c.To
		}
		r := Suggest(c.Table, col, nil, via)
		r.Review = "discovered, no foreign key: " + c.Evidence() + ". " + r.Review
		d.addRule(r)
	}
	return len(d.deleted) > before
}

// personal handles one discovered personal column: nothing when its rows
// are deleted, a set: on the table's anonymize or keep rule, else an
// ignore entry to review.
func (d *Draft) personal(c *discover.Candidate) {
	if d.deleted[c.Table] {
		return
	}
	col := c.Column.Name
	for _, r := range d.Rules {
		if r.Table != c.Table || r.Action == policy.Delete {
			continue
		}
		switch {
		case !c.Column.NotNull:
			r.Set = append(r.Set, [2]string{col, "null"})
		case c.Column.Textual():
			r.Set = append(r.Set, [2]string{col, `{pseudonym: "deleted-"}`})
		default:
			continue
		}
		r.Review += fmt.Sprintf("; %s cleared as personal data (%s)", col, c.Evidence())
		d.colDone[[2]any{c.Table, col}] = true
		return
	}
	d.addIgnore(Ignore{Table: c.Table, Column: col, Reason: "discovered: " + c.Evidence(),
		Review: "personal data in a table no rule reaches: erase it with a rule, or say why it stays"})
}

// resolveVia makes each via rule name a parent with exactly one delete
// rule (the one plan follows): a parent's other delete rules on nullable
// columns become anonymize rules, and a child whose rows go by ON DELETE
// CASCADE anyway becomes an ignore entry when via would stay ambiguous.
func (d *Draft) resolveVia() {
	d.breakViaCycles()
	deletes := map[*catalog.Table][]*Rule{}
	for _, r := range d.Rules {
		if r.Action == policy.Delete {
			deletes[r.Table] = append(deletes[r.Table], r)
		}
	}
	isVia := map[*catalog.Table]bool{}
	for _, r := range d.Rules {
		if r.Via != nil {
			isVia[r.Via] = true
		}
	}
	for t, rules := range deletes {
		if !isVia[t] || len(rules) < 2 {
			continue
		}
		sort.SliceStable(rules, func(i, j int) bool { return owner(rules[i].Match) && !owner(rules[j].Match) })
		kept := rules[:1]
		for _, r := range rules[1:] {
			if c := t.Columns[r.Match]; c != nil && !c.NotNull && r.Via == nil {
				r.Action, r.Set = policy.Anonymize, [][2]string{{r.Match, "null"}}
				r.Review += fmt.Sprintf("; anonymized, not deleted, so that the rules that reach the subject via %s follow the rule on %s", t, rules[0].Match)
				continue
			}
			kept = append(kept, r)
		}
		deletes[t] = kept
	}
	var keep []*Rule
	for _, r := range d.Rules {
		n := 0
		if r.Via != nil {
			n = len(deletes[r.Via])
		}
		if r.Via != nil && n != 1 && r.Action == policy.Delete && strings.HasPrefix(r.Review, "ON DELETE CASCADE") {
			d.Ignores = append(d.Ignores, Ignore{Table: r.Table, Column: r.Match,
				Reason: fmt.Sprintf("rows go by ON DELETE CASCADE from %s", r.Via)})
			continue
		}
		if r.Via != nil && n != 1 {
			r.Review += fmt.Sprintf("; %s has %d delete rules: via must follow exactly one", r.Via, n)
		}
		keep = append(keep, r)
	}
	d.Rules = keep
	sort.SliceStable(d.Rules, func(i, j int) bool { return d.Rules[i].Table.String() < d.Rules[j].Table.String() })
}

// owner reports whether a column's name says the row is its person's:
// their rule is the one via follows.
func owner(col string) bool {
	return ownsRows(col) || strings.Contains(col, "creator") || strings.Contains(col, "author") || strings.Contains(col, "uploader")
}

// multiMatch picks the column a rule through the multi-column key fk
// matches on: the one paired with the parent's id column, else the
// first.
func multiMatch(fk *catalog.FK) string {
	for i, pc := range fk.ParentCols {
		if pc == "id" {
			return fk.ChildCols[i]
		}
	}
	return fk.ChildCols[0]
}
