package policy

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// ExportJob is the top-level export: section, for lethe --job export: the
// application records a person's access request (Request), and the job
// writes the person's archive To object storage, tells them through
// Notify with a link that lasts Expire, and deletes the archive after
// Expire.
type ExportJob struct {
	// Request says where the application records access requests.
	Request ExportRequest `yaml:"request"`
	// To is where archives go: s3://bucket/prefix/ or file:///dir/, with
	// a trailing slash.
	To string `yaml:"to"`
	// Expire is how long an archive is kept, and its link valid (an S3
	// presigned link: at most 7 days).
	Expire Duration `yaml:"expire"`
	// Email is the text column of the subject table that holds the
	// address; required with notify.smtp.
	Email Ident `yaml:"email"`
	// Notify says how the person is told; at least one channel.
	Notify InactivityNotify `yaml:"notify"`

	// Line is where the section starts in the file.
	Line int `yaml:"-"`
}

// ExportRequest is where access requests are recorded: Column alone, a
// timestamp column of the subject table that the application sets and
// lethe clears when the request is done; or Table, Match, RequestedAt and
// DoneAt, a table of requests (one row each) whose DoneAt lethe sets.
type ExportRequest struct {
	// Column is the subject table's timestamp column of a pending request.
	Column Ident `yaml:"column"`
	// Table is a table of requests.
	Table Ident `yaml:"table"`
	// Match is Table's column that holds the subject's key.
	Match Ident `yaml:"match"`
	// RequestedAt is Table's timestamp column of when the request was made.
	RequestedAt Ident `yaml:"requested_at"`
	// DoneAt is Table's timestamp column that lethe sets when the request
	// is done; a row with DoneAt NULL is pending.
	DoneAt Ident `yaml:"done_at"`
}

// ByTable reports whether requests are rows of their own table.
func (r ExportRequest) ByTable() bool { return !r.Table.IsZero() }

// checkExportJob checks the export: section as far as the file shows;
// columns are checked against the catalog when the job starts.
func (p *Policy) checkExportJob(perr *Error) {
	e := p.ExportJob
	if e == nil {
		return
	}
	r := e.Request
	switch {
	case r.Column.IsZero() && !r.ByTable():
		perr.Add(e.Line, "export.request needs column: (a timestamp column of the subject table) or table:, match:, requested_at: and done_at:")
	case !r.Column.IsZero() && r.ByTable():
		perr.Add(e.Line, "export.request: give column: or table:, not both")
	case r.ByTable():
		if r.Match.IsZero() || r.RequestedAt.IsZero() || r.DoneAt.IsZero() {
			perr.Add(e.Line, "export.request.table needs match:, requested_at: and done_at: (its columns)")
		}
		for _, c := range []Ident{r.Match, r.RequestedAt, r.DoneAt} {
			if len(c.Parts) > 1 {
				perr.Add(e.Line, "export.request: %q must be a column of %s", c.Raw, r.Table)
			}
		}
	case len(r.Column.Parts) > 1:
		perr.Add(e.Line, "export.request.column must be a column of the subject table, not %q", r.Column.Raw)
	}
	if !validExportTo(e.To) {
		perr.Add(e.Line, "export.to must be s3://bucket/prefix/ or file:///directory/ (ending in /), not %q", e.To)
	}
	if e.Expire <= 0 {
		perr.Add(e.Line, "export.expire is required and must be positive, e.g. 7d (how long an archive and its link last)")
	}
	if len(e.Email.Parts) > 1 {
		perr.Add(e.Line, "export.email must be a column of the subject table, not %q", e.Email.Raw)
	}
	p.checkNotify(perr, "export", e.Line, e.Notify, !e.Email.IsZero())
}

func validExportTo(to string) bool {
	if !strings.HasSuffix(to, "/") {
		return false
	}
	if rest, ok := strings.CutPrefix(to, "s3://"); ok {
		bucket, _, _ := strings.Cut(rest, "/")
		return bucket != "" && !strings.Contains(rest, "//")
	}
	rest, ok := strings.CutPrefix(to, "file:///")
	return ok && !strings.Contains(rest, "..") && !strings.Contains(rest, "//")
}

// setExportJobLines records the lines of the section and its channels.
func setExportJobLines(e *ExportJob, key, val *yaml.Node) {
	if e == nil {
		return
	}
	e.Line = key.Line
	setNotifyLines(&e.Notify, val)
}
