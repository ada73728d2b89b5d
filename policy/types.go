package policy

import "time"

// Action says what happens to the rows a rule matches.
type Action string

// The three categories of the data-cleanup guide, plus the one the planner
// derives for rows that go by ON DELETE CASCADE.
const (
	// Delete removes the matched rows.
	Delete Action = "delete"
	// Anonymize replaces the columns listed in Set; the row stays.
	Anonymize Action = "anonymize"
	// Keep leaves the row under a documented legal basis; Set may still
	// strip personal data from it.
	Keep Action = "keep"
	// Cascade marks rows that PostgreSQL removes through ON DELETE CASCADE.
	// It never appears in a policy file.
	Cascade Action = "cascade"
)

// Policy is a parsed policy file.
type Policy struct {
	// Subject describes the account table.
	Subject Subject `yaml:"subject"`
	// Tables lists every other table that refers to a subject.
	Tables []Rule `yaml:"tables"`
	// Ignore lists tables that refer to a subject but need no action,
	// each with the reason.
	Ignore []Ignore `yaml:"ignore"`
	// References declares references that have no foreign key in the
	// database; each counts as one would. See Reference.
	References []Reference `yaml:"references"`
	// Discovery tunes how lethe check finds unclassified references and
	// personal data; nil when absent (the defaults).
	Discovery *Discovery `yaml:"discovery"`
	// Retention lists time-based deletion rules for the retention job.
	Retention []RetentionRule `yaml:"retention"`
	// Objects lists where subjects' files live outside the database (S3
	// prefixes and objects, local paths); see ObjectRule.
	Objects []ObjectRule `yaml:"objects"`
	// Processors lists the third parties that hold subjects' data, each
	// erased with one HTTP call; see Processor.
	Processors []Processor `yaml:"processors"`
	// Inactivity configures the inactivity job; nil when absent.
	Inactivity *Inactivity `yaml:"inactivity"`
	// Orphans configures the orphans job; nil when absent.
	Orphans *Orphans `yaml:"orphans"`
	// ExportJob configures the export job (access requests); nil when
	// absent.
	ExportJob *ExportJob `yaml:"export"`

	// Digest is the hex SHA-256 of the file's bytes, recorded in receipts.
	Digest string `yaml:"-"`
	// Path is the file the policy was read from, for messages.
	Path string `yaml:"-"`
}

// Subject describes the table whose rows are the people lethe erases.
type Subject struct {
	// Table is the account table, e.g. users or "Accounts".
	Table Ident `yaml:"table"`
	// Key is the column that identifies a subject (uuid, bigint or text).
	Key Ident `yaml:"key"`
	// RequestedAt is the timestamp column the application sets when the
	// person asks for deletion.
	RequestedAt Ident `yaml:"requested_at"`
	// Grace is how long after RequestedAt the purge may erase the subject.
	Grace Duration `yaml:"grace"`
	// Hold is an optional boolean column; while true the subject is never
	// purged.
	Hold Ident `yaml:"hold"`
	// Final is what happens to the subject row itself: delete (default) or
	// anonymize (a tombstone row built with Set).
	Final Action `yaml:"final"`
	// Set lists the columns of a tombstone row, with final: anonymize.
	Set Assignments `yaml:"set"`
	// PurgedAt is the timestamp column lethe sets on a tombstone, so that
	// it is never selected again. Required with final: anonymize.
	PurgedAt Ident `yaml:"purged_at"`
	// Export says which columns of the subject row lethe export leaves out.
	Export Export `yaml:"export"`

	// Line is where the subject section starts in the file.
	Line int `yaml:"-"`
}

// Rule says what happens to one table's rows that refer to a subject.
type Rule struct {
	// Table is the table the rule acts on.
	Table Ident `yaml:"table"`
	// Match is the column that holds the subject's key, or with Via the
	// key of a row of the Via table; a list names the columns of a
	// multi-column foreign key or declared reference, into the subject
	// table or (with Via) into the Via table.
	Match Match `yaml:"match"`
	// Via names a table, covered by its own rule, through which this table
	// reaches the subject: Match refers to a row of Via.
	Via Ident `yaml:"via"`
	// ViaMatch names, when several rules cover the Via table, the match
	// column of the one whose rows this table follows.
	ViaMatch Ident `yaml:"via_match"`
	// On names the column of the subject table that Match holds, when it
	// is not the subject's key: an audit log that stores the email, a log
	// keyed by username. The subject's value is read in the batch before
	// the subject row changes. Not with Via.
	On Ident `yaml:"on"`
	// Action is delete, anonymize or keep.
	Action Action `yaml:"action"`
	// Set lists the columns to replace, for anonymize and keep.
	Set Assignments `yaml:"set"`
	// Basis is the documented legal basis for keeping rows; required with
	// keep.
	Basis string `yaml:"basis"`
	// Export says which of the rule's columns lethe export leaves out.
	Export Export `yaml:"export"`

	// Line is where the rule starts in the file.
	Line int `yaml:"-"`
}

// Ignore records a table that refers to a subject and needs no action.
type Ignore struct {
	// Table is the ignored table.
	Table Ident `yaml:"table"`
	// Column optionally narrows the entry to one referencing column.
	Column Ident `yaml:"column"`
	// Columns narrows the entry to one multi-column reference, by its
	// referencing columns in order.
	Columns []Ident `yaml:"columns"`
	// Reason says why no action is needed; required.
	Reason string `yaml:"reason"`

	// Line is where the entry starts in the file.
	Line int `yaml:"-"`
}

// RetentionRule deletes a table's rows once a timestamp column is older than
// Keep (or Retain, for rows the purge kept under a legal basis).
type RetentionRule struct {
	// Table is the table to clean.
	Table Ident `yaml:"table"`
	// Column is the timestamp or timestamptz column that ages the rows.
	Column Ident `yaml:"column"`
	// Keep is how long rows are kept after Column.
	Keep Duration `yaml:"keep"`
	// Retain is Keep for rows kept under a legal basis (either may be given).
	Retain Duration `yaml:"retain"`
	// Where is an optional equality filter: column to value.
	Where Assignments `yaml:"where"`

	// Line is where the rule starts in the file.
	Line int `yaml:"-"`
}

// Age returns the rule's retention period, whichever of Keep and Retain is
// set.
func (r RetentionRule) Age() time.Duration {
	if r.Keep > 0 {
		return time.Duration(r.Keep)
	}
	return time.Duration(r.Retain)
}
