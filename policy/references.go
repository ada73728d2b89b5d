package policy

// Reference declares that columns of a table refer to a row of another
// table although the database has no foreign key for it: an application
// that never declared one, a partitioned or high-write table whose key was
// dropped on purpose, an audit log. A declared reference counts exactly as a
// foreign key would: the coverage check wants a rule or an ignore entry for
// it, and it orders the steps and names the parent of a via:.
//
//	references:
//	  - table: award_emoji
//	    column: user_id            # or columns: [partition_id, user_id]
//	    to: users                  # default: the subject table
//	    to_column: id              # default: to's primary key
type Reference struct {
	// Table is the referencing (child) table.
	Table Ident `yaml:"table"`
	// Column is the referencing column; Columns names several, in the
	// order of ToColumns. Give one of them.
	Column Ident `yaml:"column"`
	// Columns lists the referencing columns of a multi-column reference.
	Columns []Ident `yaml:"columns"`
	// To is the referenced table; the subject table when empty.
	To Ident `yaml:"to"`
	// ToColumn is the referenced column; ToColumns names several. When
	// both are empty the referenced table's primary key is meant (the
	// subject's key for the subject table).
	ToColumn Ident `yaml:"to_column"`
	// ToColumns lists the referenced columns of a multi-column reference.
	ToColumns []Ident `yaml:"to_columns"`
	// Note says where the reference comes from (a model association, a
	// comment in the schema); it is only repeated in reports.
	Note string `yaml:"note"`

	// Line is where the entry starts in the file.
	Line int `yaml:"-"`
}

// From returns the referencing columns, whichever of Column and Columns
// was given.
func (r Reference) From() []Ident {
	if !r.Column.IsZero() {
		return []Ident{r.Column}
	}
	return r.Columns
}

// Target returns the referenced columns as written; empty means the
// referenced table's primary key.
func (r Reference) Target() []Ident {
	if !r.ToColumn.IsZero() {
		return []Ident{r.ToColumn}
	}
	return r.ToColumns
}

// checkReferences finds the problems of references: entries that the file
// alone shows; the catalog check (names, types) is the planner's.
func (p *Policy) checkReferences(perr *Error) {
	for _, r := range p.References {
		if r.Table.IsZero() {
			perr.Add(r.Line, "a references: entry needs table:")
			continue
		}
		where := "reference from " + r.Table.String()
		switch {
		case !r.Column.IsZero() && len(r.Columns) > 0:
			perr.Add(r.Line, "%s: give column: or columns:, not both", where)
		case r.Column.IsZero() && len(r.Columns) == 0:
			perr.Add(r.Line, "%s needs column: (the column that holds the referenced key)", where)
		}
		if !r.ToColumn.IsZero() && len(r.ToColumns) > 0 {
			perr.Add(r.Line, "%s: give to_column: or to_columns:, not both", where)
		}
		if to := r.Target(); len(to) > 0 && len(to) != len(r.From()) {
			perr.Add(r.Line, "%s names %d columns and %d referenced columns; they pair up in order", where, len(r.From()), len(to))
		}
		for _, c := range append(r.From(), r.Target()...) {
			if len(c.Parts) > 1 {
				perr.Add(r.Line, "%s: %q must be a column name", where, c.Raw)
			}
		}
	}
}
