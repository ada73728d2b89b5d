package policy

// Export is what lethe export leaves out of a rule's rows (or of the
// subject row): columns that must never leave the database, such as
// password hashes, tokens and internal flags. A default list of obvious
// names is left out as well (see package export).
type Export struct {
	// Exclude lists the column names to leave out.
	Exclude []Ident `yaml:"exclude"`
}

// Excludes reports whether the column named col is in Exclude.
func (e Export) Excludes(col string) bool {
	for _, id := range e.Exclude {
		if id.Column() == col {
			return true
		}
	}
	return false
}

// check finds the problems the file alone shows: names that are not column
// names, and repeats. Whether the columns exist is checked against the
// database when the export runs.
func (e Export) check(perr *Error, line int, where string) {
	seen := map[string]bool{}
	for _, id := range e.Exclude {
		if id.IsZero() {
			perr.Add(line, "%s: export.exclude has an empty entry", where)
			continue
		}
		if len(id.Parts) > 1 {
			perr.Add(line, "%s: export.exclude must list column names, not %q", where, id.Raw)
			continue
		}
		if seen[id.Column()] {
			perr.Add(line, "%s: export.exclude lists %s twice", where, id)
		}
		seen[id.Column()] = true
	}
}
