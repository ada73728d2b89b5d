package discover

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// Kind says what a candidate may be.
type Kind string

const (
	// Reference is a column that may hold the key of a subject (or of a
	// row of a table the purge deletes) without a foreign key.
	Reference Kind = "reference"
	// Personal is a column that may hold personal data itself.
	Personal Kind = "personal"
)

// Target is a table whose rows a reference may point at: the subject
// table (by its key) or a table the policy deletes (by its primary key).
type Target struct {
	// Table is the referenced table.
	Table *catalog.Table
	// Key is the referenced column.
	Key *catalog.Column
}

// Input is what discovery looks at.
type Input struct {
	// Catalog is the database's tables.
	Catalog *catalog.Catalog
	// Subject is the subject table and its key.
	Subject Target
	// Deleted lists the other tables the policy deletes rows of.
	Deleted []Target
	// Config is the policy's discovery: section; nil for the defaults.
	Config *policy.Discovery
	// Covered, when set, says that a column's personal data is already
	// handled (its rows are deleted, or a set: replaces it): such columns
	// are not sampled for personal content.
	Covered func(t *catalog.Table, column string) bool
}

// Candidate is one column discovery found.
type Candidate struct {
	// Kind is reference or personal.
	Kind Kind
	// Table and Column locate the column.
	Table  *catalog.Table
	Column *catalog.Column
	// To and ToColumn are the referenced table and column (references).
	To       *catalog.Table
	ToColumn *catalog.Column
	// ByName is true when the column's name made it a candidate; false
	// when only its sampled values did.
	ByName bool
	// Content says what the sampled values hold for a personal candidate
	// found by content ("e-mail addresses", "subject keys"), else "".
	Content string
	// Sampled is how many values were sampled (distinct values for a
	// reference, non-null values for personal content); 0 when none were.
	Sampled int
	// Found is how many of them were keys of To (a reference) or looked
	// like Content (personal).
	Found int
}

// Confidence is the share of sampled values that were found, or -1 when
// nothing was sampled.
func (c *Candidate) Confidence() float64 {
	if c.Sampled == 0 {
		return -1
	}
	return float64(c.Found) / float64(c.Sampled)
}

// Evidence says in words why the column is a candidate, with the sample's
// share; it holds no value.
func (c *Candidate) Evidence() string {
	var why string
	switch {
	case c.Kind == Reference && c.ByName:
		why = fmt.Sprintf("named like a reference to %s", c.To)
	case c.Kind == Reference:
		why = fmt.Sprintf("every sampled value is a %s.%s", c.To, c.ToColumn.Name)
	case c.Content != "":
		why = "sampled values hold " + c.Content
	default:
		why = "named like personal data"
	}
	switch {
	case c.Sampled == 0 && c.Kind == Reference:
		return why + "; no rows sampled"
	case c.Sampled == 0:
		return why
	case c.Kind == Reference:
		return fmt.Sprintf("%s; %d of %d sampled values found in %s (confidence %.0f%%)", why, c.Found, c.Sampled, c.To, 100*c.Confidence())
	}
	return fmt.Sprintf("%s (%d of %d sampled values)", why, c.Found, c.Sampled)
}

// String names the column: table.column.
func (c *Candidate) String() string { return c.Table.String() + "." + displayColumn(c.Column.Name) }

func displayColumn(name string) string {
	if strings.ToLower(name) != name || strings.ContainsAny(name, " -.\"") {
		return fmt.Sprintf("%q", name)
	}
	return name
}

// fkColumns returns the columns that take part in a foreign key, as
// child: they are declared, and never candidates.
func fkColumns(cat *catalog.Catalog) map[*catalog.Table]map[string]bool {
	out := map[*catalog.Table]map[string]bool{}
	for _, fk := range cat.FKs {
		if out[fk.Child] == nil {
			out[fk.Child] = map[string]bool{}
		}
		for _, c := range fk.ChildCols {
			out[fk.Child][c] = true
		}
	}
	return out
}

// integer reports whether a type is one of PostgreSQL's integer types.
func integer(c *catalog.Column) bool {
	switch c.Type {
	case "smallint", "integer", "bigint":
		return true
	}
	return false
}

// comparable reports whether col can hold values of key: the same type,
// two integer types, or text holding keys of any type.
func comparable(col, key *catalog.Column) bool {
	return col.Type == key.Type || integer(col) && integer(key) || col.Textual() || key.Textual() && col.Type == "uuid"
}
