package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/processors"
)

// ObjectRule names files of a subject that live outside the database. It
// takes one of two forms.
//
// By subject: Location alone, a template such as
// "s3://app-uploads/users/{key}/" (every object under the prefix),
// "s3://avatars/{key}.png" (one object) or
// "file:///var/lib/app/uploads/{key}/" (a directory). {key} is the subject
// key and any other {name} a column of the subject table, read before the
// subject row goes.
//
// By rows: Table, Column and Location, for object keys that the
// application stores in a column of a table that a delete rule covers, as
// in table: uploads, column: storage_key, location:
// "s3://app-uploads/{storage_key}". The template has exactly one
// placeholder, the column, at its end; the stored value is an object key
// relative to the fixed part and may hold "/" (a value that ends in "/"
// names every object under that prefix). The values are read in the
// purge's transaction before the rows are deleted.
type ObjectRule struct {
	// Location is the location template.
	Location string `yaml:"location"`
	// Table, for objects named by rows, is the table whose rows hold the
	// object keys; it must have a delete rule in tables:.
	Table Ident `yaml:"table"`
	// Column is the column of Table that holds the object keys.
	Column Ident `yaml:"column"`

	// Line is where the entry starts in the file.
	Line int `yaml:"-"`
}

// ByRows reports whether the objects are named by a table's rows rather
// than by the subject's key and columns.
func (o ObjectRule) ByRows() bool { return !o.Table.IsZero() }

// Processor is a third party that holds subjects' data and erases a
// subject with one HTTP call; see processors.Config for the fields (name,
// method, url, headers, body, done_status, timeout, max_attempts, backoff,
// max_backoff). Secrets come only from ${NAME} environment references.
type Processor struct {
	processors.Config `yaml:",inline"`

	// Line is where the entry starts in the file.
	Line int `yaml:"-"`
}

// secretHeader matches header names that carry credentials; their values
// must come from the environment.
var secretHeader = regexp.MustCompile(`(?i)authorization|key|token|secret|password`)

// checkOutside checks the objects: and processors: sections as far as the
// file alone shows; the environment and the catalog are checked when the
// erasers are built and when the job starts.
func (p *Policy) checkOutside(perr *Error) {
	seen := map[string]int{}
	for _, o := range p.Objects {
		if prev, ok := seen[o.Location]; ok && o.Location != "" {
			perr.Add(o.Line, "objects: location %q repeats the entry at line %d", o.Location, prev)
		}
		seen[o.Location] = o.Line
		p.checkObject(perr, o)
	}
	names := map[string]int{}
	for _, pr := range p.Processors {
		if err := pr.Validate(); err != nil {
			perr.Add(pr.Line, "%v", err)
		}
		if prev, ok := names[pr.Name]; ok && pr.Name != "" {
			perr.Add(pr.Line, "processor %q repeats the name at line %d", pr.Name, prev)
		}
		names[pr.Name] = pr.Line
		for h, v := range pr.Headers {
			if secretHeader.MatchString(h) && !strings.Contains(v, "${") {
				perr.Add(pr.Line, "processor %q: header %s must take its secret from the environment, as in \"Bearer ${NAME}\", never from the policy file", pr.Name, h)
			}
		}
	}
}

func (p *Policy) checkObject(perr *Error, o ObjectRule) {
	if o.Location == "" {
		perr.Add(o.Line, "objects: entry needs location:")
		return
	}
	loc, err := objstore.ParseLocation(o.Location)
	if err != nil {
		perr.Add(o.Line, "objects: %v", err)
		return
	}
	if !o.ByRows() {
		if !o.Column.IsZero() {
			perr.Add(o.Line, "objects: column: goes with table: (objects named by a table's rows)")
		}
		return
	}
	if o.Column.IsZero() || len(o.Column.Parts) > 1 {
		perr.Add(o.Line, "objects: entry for table %s needs column: (the column that holds the object keys)", o.Table)
		return
	}
	col := o.Column.Column()
	if ph := loc.Placeholders(); len(ph) != 1 || ph[0] != col || !strings.HasSuffix(o.Location, "{"+col+"}") {
		perr.Add(o.Line, "objects: location %q for %s.%s must end in {%s} and hold no other placeholder, as in \"s3://bucket/{%s}\"",
			o.Location, o.Table, o.Column, col, col)
	}
	if !p.deletes(o.Table) {
		perr.Add(o.Line, "objects: table %s needs a delete rule in tables: (objects are read from the rows the purge deletes; files of kept or anonymized rows stay with them)", o.Table)
	}
}

// deletes reports whether a tables: rule deletes rows of t.
func (p *Policy) deletes(t Ident) bool {
	for _, r := range p.Tables {
		if r.Action == Delete && r.Table.Sanitize() == t.Sanitize() {
			return true
		}
	}
	return false
}

// String names the entry for messages: its location template.
func (o ObjectRule) String() string {
	if o.ByRows() {
		return fmt.Sprintf("%s (from %s.%s)", o.Location, o.Table, o.Column)
	}
	return o.Location
}
