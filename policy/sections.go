package policy

import "strings"

// Require returns a *Error naming the sections that what (a job, "the
// purge job", or a command, "lethe erase") needs and the policy lacks; nil
// when it has them all. Each job names its sections where it is registered.
func (p *Policy) Require(what string, sections ...string) error {
	missing := false
	for _, s := range sections {
		missing = missing || !p.Has(s)
	}
	if !missing {
		return nil
	}
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = article(s) + " " + s + ": section"
	}
	perr := &Error{Path: p.Path}
	perr.Add(0, "%s needs %s", what, strings.Join(names, " and "))
	return perr
}

// Has reports whether the policy has the section named (subject,
// retention, inactivity, orphans or export).
func (p *Policy) Has(section string) bool {
	switch section {
	case "subject":
		return p.HasSubject()
	case "retention":
		return len(p.Retention) > 0
	case "inactivity":
		return p.Inactivity != nil
	case "orphans":
		return p.Orphans != nil
	case "export":
		return p.ExportJob != nil
	}
	return false
}

// HasSubject reports whether the policy has a subject: section.
func (p *Policy) HasSubject() bool { return p.Subject.Line > 0 }

func article(section string) string {
	if strings.ContainsRune("aeiou", rune(section[0])) {
		return "an"
	}
	return "a"
}

// checkSections reports a policy with no section at all, and sections
// that only make sense with a subject: when it is absent.
func (p *Policy) checkSections(perr *Error) {
	if !p.HasSubject() && len(p.Retention) == 0 && p.Inactivity == nil && p.Orphans == nil && p.ExportJob == nil &&
		len(p.Tables) == 0 && len(p.Ignore) == 0 && len(p.References) == 0 && len(p.Objects) == 0 && len(p.Processors) == 0 {
		perr.Add(0, "the policy has no sections: want subject: (purge), retention:, inactivity: or orphans:")
		return
	}
	if p.HasSubject() {
		return
	}
	for _, s := range []struct {
		name  string
		lines []int
	}{
		{"tables:", lines(p.Tables, func(r Rule) int { return r.Line })},
		{"ignore:", lines(p.Ignore, func(r Ignore) int { return r.Line })},
		{"references:", lines(p.References, func(r Reference) int { return r.Line })},
		{"objects:", lines(p.Objects, func(r ObjectRule) int { return r.Line })},
		{"processors:", lines(p.Processors, func(r Processor) int { return r.Line })},
	} {
		if len(s.lines) > 0 {
			perr.Add(s.lines[0], "%s needs a subject: section (the purge erases what refers to a subject)", s.name)
		}
	}
	if p.Inactivity != nil {
		perr.Add(p.Inactivity.Line, "inactivity: needs a subject: section (it reads the subject table)")
	}
	if p.ExportJob != nil {
		perr.Add(p.ExportJob.Line, "export: needs a subject: section (it exports subjects)")
	}
	if o := p.Orphans; o != nil {
		if len(o.Invites) > 0 {
			perr.Add(o.Invites[0].Line, "orphans: invites: needs a subject: section (an inviter is a subject)")
		}
		if len(o.Objects) > 0 {
			perr.Add(o.Objects[0].Line, "orphans: objects: needs a subject: section (prefixes are named after subject keys)")
		}
	}
}

func lines[T any](items []T, line func(T) int) []int {
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = line(it)
	}
	return out
}
