package plan

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
)

// linkOn resolves a rule's on: it matches a column of the subject other
// than the key. The step reaches the subject through a lookup of the
// subject row by key, as a via: reaches its parent, so that every
// statement reads the subject's value in the batch, before the subject
// row (the last step) changes.
func (b *builder) linkOn(pl *Plan, s *Step) {
	r := s.Rule
	what := fmt.Sprintf("rule for %s", r.Table)
	st := pl.Subject.Table
	on := b.column(st, r.On, r.Line, what+" on")
	if on == nil {
		return
	}
	if !compatible(s.Match, on) {
		b.perr.Add(r.Line, "%s: match column %s is %s, but %s.%s is %s", what, s.Match.Name, s.Match.Type, st, on.Name, on.Type)
		return
	}
	if b.lookup == nil {
		b.lookup = &Step{Table: st, Match: pl.Subject.Key}
	}
	s.Via, s.Ref, s.On = b.lookup, on, on
	s.After = append(s.After, fmt.Sprintf("reads the subject's %s before the subject row changes", on.Name))
}

// sampleRows bounds how many rows the sample of a match column reads.
const sampleRows = 10000

// sampleValues bounds how many non-null values of them it checks.
const sampleValues = 1000

// warnTextMatch warns about a direct match on a text column none of whose
// sampled values looks like a subject key: it is compared with the key
// and probably holds another column of the subject (say which with on:).
// A key looks like a key when it casts (uuid, integer keys) or, for a
// text key, when the subject table has it. No value is named.
func (b *builder) warnTextMatch(pl *Plan) {
	key := pl.Subject.Key
	for _, s := range pl.Steps {
		if s.Rule == nil || s.Via != nil || !s.Match.Textual() {
			continue
		}
		like := "v ~ '^-?[0-9]+$'"
		switch {
		case key.Type == "uuid":
			like = "v ~* '^\\{?[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}\\}?$'"
		case key.Textual():
			like = fmt.Sprintf("EXISTS (SELECT 1 FROM %s u WHERE u.%s = v)", pl.Subject.Table.Ident(), key.Ident())
		case key.Category != "N":
			continue
		}
		q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE %s) FROM (
			SELECT x.%s::text AS v FROM (SELECT %s FROM %s LIMIT %d) x WHERE x.%s IS NOT NULL LIMIT %d) s`,
			like, s.Match.Ident(), s.Match.Ident(), s.Table.Ident(), sampleRows, s.Match.Ident(), sampleValues)
		var n, keys int64
		if err := b.q.QueryRow(b.ctx, q).Scan(&n, &keys); err != nil {
			b.perr.Add(s.Line, "rule for %s: sampling %s: %s", s.Table, s.Match.Name, pgMessage(err))
			continue
		}
		if n > 0 && keys == 0 {
			pl.Warnings = append(pl.Warnings, fmt.Sprintf("rule for %s (line %d): none of the %d sampled values of %s.%s looks like a %s.%s (%s): "+
				"it is compared with the subject's key; if it holds another column of the subject, say which with on:",
				s.Table, s.Line, n, s.Table, s.Match.Name, pl.Subject.Table, key.Name, key.Type))
		}
	}
}

// viaRules returns the rules on vt that s may reach the subject through:
// those whose match column is s's via_match when it has one (via), and
// all of them (cands).
func viaRules(steps []*Step, s *Step, vt *catalog.Table) (via, cands []*Step) {
	for _, o := range steps {
		if o.Table != vt || o == s {
			continue
		}
		cands = append(cands, o)
		if s.Rule.ViaMatch.IsZero() || o.Match.Name == s.Rule.ViaMatch.Column() {
			via = append(via, o)
		}
	}
	return via, cands
}

func matchNames(steps []*Step) string {
	var names []string
	for _, o := range steps {
		names = append(names, o.Match.Name)
	}
	return strings.Join(names, ", ")
}
