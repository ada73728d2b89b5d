package policy

import "fmt"

// check finds the problems that the file alone shows.
func (p *Policy) check(perr *Error) {
	p.checkSections(perr)
	p.checkSubject(perr)
	seen := map[string]int{}
	for i := range p.Tables {
		p.checkRule(perr, &p.Tables[i], seen)
	}
	for _, ig := range p.Ignore {
		if ig.Table.IsZero() {
			perr.Add(ig.Line, "ignore entry needs a table")
		}
		if ig.Reason == "" {
			perr.Add(ig.Line, "ignore entry for %s needs a reason", ig.Table)
		}
		if !ig.Column.IsZero() && len(ig.Columns) > 0 {
			perr.Add(ig.Line, "ignore entry for %s: give column: or columns:, not both", ig.Table)
		}
	}
	p.checkReferences(perr)
	p.checkDiscovery(perr)
	p.checkOutside(perr)
	p.checkInactivity(perr)
	p.checkExportJob(perr)
	p.checkOrphans(perr)
	for _, r := range p.Retention {
		if r.Table.IsZero() || r.Column.IsZero() {
			perr.Add(r.Line, "retention rule needs table and column")
		}
		if r.Keep > 0 && r.Retain > 0 {
			perr.Add(r.Line, "retention rule for %s: give keep or retain, not both", r.Table)
		}
		if r.Keep <= 0 && r.Retain <= 0 {
			perr.Add(r.Line, "retention rule for %s needs keep: (or retain:) with a positive duration", r.Table)
		}
		for _, w := range r.Where {
			if w.Value.Kind == Pseudonym {
				perr.Add(w.Line, "retention where: compares with literals or null, not a pseudonym")
			}
		}
	}
}

// checkSubject checks the subject: section, when present.
func (p *Policy) checkSubject(perr *Error) {
	s := &p.Subject
	if !p.HasSubject() {
		return
	}
	need := func(id Ident, key string) {
		if id.IsZero() {
			perr.Add(s.Line, "subject.%s is required", key)
		}
	}
	need(s.Table, "table")
	need(s.Key, "key")
	need(s.RequestedAt, "requested_at")
	if s.Grace <= 0 {
		perr.Add(s.Line, "subject.grace is required and must be positive, e.g. 30d")
	}
	for _, c := range []struct {
		id   Ident
		name string
	}{{s.Key, "key"}, {s.RequestedAt, "requested_at"}, {s.Hold, "hold"}, {s.PurgedAt, "purged_at"}} {
		if len(c.id.Parts) > 1 {
			perr.Add(s.Line, "subject.%s must be a column name, not %q", c.name, c.id.Raw)
		}
	}
	switch s.Final {
	case "":
		s.Final = Delete
	case Delete:
		if len(s.Set) > 0 {
			perr.Add(s.Line, "subject.set only makes sense with final: anonymize")
		}
	case Anonymize:
		if len(s.Set) == 0 {
			perr.Add(s.Line, "subject.final: anonymize needs a set: of the columns that make the tombstone")
		}
		if s.PurgedAt.IsZero() {
			perr.Add(s.Line, "subject.final: anonymize needs purged_at: a timestamp column lethe sets so the tombstone is never purged again")
		}
	default:
		perr.Add(s.Line, "subject.final must be delete or anonymize, not %q", s.Final)
	}
	s.Export.check(perr, s.Line, "subject")
}

func (p *Policy) checkRule(perr *Error, r *Rule, seen map[string]int) {
	where := fmt.Sprintf("rule for %s", r.Table)
	if r.Table.IsZero() {
		perr.Add(r.Line, "a tables: rule needs table:")
		return
	}
	if r.Match.IsZero() {
		perr.Add(r.Line, "%s needs match: (the column that holds the subject's key)", where)
	}
	named := map[string]bool{}
	for _, c := range r.Match.Columns() {
		if len(c.Parts) > 1 {
			perr.Add(r.Line, "%s: match must be a column name, not %q", where, c.Raw)
		}
		if named[c.Column()] {
			perr.Add(r.Line, "%s: match: %s names %s twice", where, r.Match, c)
		}
		named[c.Column()] = true
	}
	if len(r.Match.List) > 0 && !r.On.IsZero() {
		perr.Add(r.Line, "%s: match: %s names a multi-column key, whose reference says which subject columns it holds; on: is for one column", where, r.Match)
	}
	key := r.Table.Sanitize() + "." + r.Match.Sanitize()
	if prev, ok := seen[key]; ok {
		perr.Add(r.Line, "%s on %s repeats the rule at line %d", where, r.Match, prev)
	}
	seen[key] = r.Line
	switch r.Action {
	case Delete:
		if len(r.Set) > 0 {
			perr.Add(r.Line, "%s: set: is for anonymize and keep, the rows are deleted", where)
		}
	case Anonymize:
		if len(r.Set) == 0 {
			perr.Add(r.Line, "%s: anonymize needs set: (the columns to replace)", where)
		}
	case Keep:
		if r.Basis == "" {
			perr.Add(r.Line, "%s: keep needs basis: (the legal basis for keeping the rows)", where)
		}
	case "":
		perr.Add(r.Line, "%s needs action: delete, anonymize or keep", where)
	default:
		perr.Add(r.Line, "%s: action must be delete, anonymize or keep, not %q", where, r.Action)
	}
	r.Export.check(perr, r.Line, where)
	if len(r.On.Parts) > 1 {
		perr.Add(r.Line, "%s: on must be a column of the subject table, not %q", where, r.On.Raw)
	}
	if !r.ViaMatch.IsZero() && r.Via.IsZero() {
		perr.Add(r.Line, "%s: via_match: picks one of the rules of the via: table; give via: too", where)
	}
	if len(r.ViaMatch.Parts) > 1 {
		perr.Add(r.Line, "%s: via_match must be a column name, not %q", where, r.ViaMatch.Raw)
	}
	if !r.On.IsZero() && !r.Via.IsZero() {
		perr.Add(r.Line, "%s: on: names a column of the subject, via: a parent table; give one", where)
	}
	if !r.Via.IsZero() {
		for _, a := range r.Set {
			if a.Value.Kind == Pseudonym {
				perr.Add(a.Line, "%s: a pseudonym needs a direct match on the subject's key, not via", where)
			}
		}
	}
}
