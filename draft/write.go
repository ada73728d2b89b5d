package draft

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lethe-project/lethe/policy"
)

// Write writes the draft as a policy file. header names where it comes
// from (the database, the date).
func (d *Draft) Write(w io.Writer, header string) error {
	var b strings.Builder
	sub := d.in.Subject
	fmt.Fprintf(&b, "# Draft lethe policy written by lethe init %s.\n", header)
	b.WriteString("# Every \"# review\" comment is a choice a person must make; lethe check passes on\n")
	b.WriteString("# this file as written, and lethe check --strict says what is still unclassified.\n")
	if r := d.Discovery; r != nil {
		fmt.Fprintf(&b, "# Discovery sampled %d tables (%d left unsampled) and found %d candidates.\n", r.Sampled, r.Unsampled, len(r.Candidates))
	}
	b.WriteString("subject:\n")
	fmt.Fprintf(&b, "  table: %s\n  key: %s\n", TableName(sub.Table), ColumnName(sub.Key.Name))
	grace := "14d"
	if d.Placeholder {
		fmt.Fprintf(&b, "  requested_at: %s   # review: PLACEHOLDER: %s has no deletion-request column; add one that the application sets when a person asks for deletion\n",
			ColumnName(d.RequestedAt), sub.Table)
		grace = "36500d   # review: a placeholder so long that nobody is eligible until requested_at is a real deletion-request column"
	} else {
		fmt.Fprintf(&b, "  requested_at: %s   # review: the column the application sets when a person asks for deletion\n", ColumnName(d.RequestedAt))
	}
	if grace == "14d" {
		grace += "   # review: how long after the request the data goes (GDPR Art. 12(3): within a month)"
	}
	fmt.Fprintf(&b, "  grace: %s\n", grace)
	if d.Hold != "" {
		fmt.Fprintf(&b, "  hold: %s   # review: while true the subject is never purged\n", ColumnName(d.Hold))
	}
	b.WriteString("  final: delete   # review: or anonymize, with set: and purged_at:, to keep a tombstone row\n")
	if len(d.Rules) > 0 {
		b.WriteString("\ntables:\n")
	}
	for _, r := range d.Rules {
		fmt.Fprintf(&b, "  - table: %s   # review: %s\n", TableName(r.Table), oneLine(r.Review))
		fmt.Fprintf(&b, "    match: %s\n", r.MatchText())
		if r.Via != nil {
			fmt.Fprintf(&b, "    via: %s\n", TableName(r.Via))
		}
		fmt.Fprintf(&b, "    action: %s\n", r.Action)
		if r.Action == policy.Keep {
			fmt.Fprintf(&b, "    basis: %q   # review: the legal basis, or another action\n", r.Basis)
		}
		if len(r.Set) > 0 {
			b.WriteString("    set:\n")
			for _, s := range r.Set {
				fmt.Fprintf(&b, "      %s: %s\n", ColumnName(s[0]), s[1])
			}
		}
	}
	if len(d.Ignores) > 0 {
		b.WriteString("\nignore:\n")
	}
	for _, ig := range d.Ignores {
		fmt.Fprintf(&b, "  - table: %s", TableName(ig.Table))
		if ig.Review != "" {
			fmt.Fprintf(&b, "   # review: %s", oneLine(ig.Review))
		}
		b.WriteString("\n")
		if ig.Column != "" {
			fmt.Fprintf(&b, "    column: %s\n", ColumnName(ig.Column))
		}
		if len(ig.Columns) > 0 {
			names := make([]string, len(ig.Columns))
			for i, c := range ig.Columns {
				names[i] = ColumnName(c)
			}
			fmt.Fprintf(&b, "    columns: [%s]\n", strings.Join(names, ", "))
		}
		fmt.Fprintf(&b, "    reason: %q\n", ig.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Header is the usual header: the database and the time.
func Header(database string, now time.Time) string {
	return fmt.Sprintf("from database %s on %s", database, now.UTC().Format("2006-01-02 15:04 UTC"))
}
