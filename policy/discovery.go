package policy

import (
	"path"
	"strings"
)

// Discovery tunes how lethe check finds references and personal data that
// the policy does not classify (see docs/discovery.md).
//
//	discovery:
//	  names: ["*_uid", "handled_by"]    # more column names that say "a subject's key"
//	  personal: ["*_nickname"]           # more column names that say "personal data"
//	  skip: ["audit_*", "events.payload"] # tables, or table.column, never reported
//	  sample_rows: 1000                  # most rows read per table (0: default)
type Discovery struct {
	// Names lists extra column-name patterns (path.Match globs, lower
	// case) that mark a column as a reference to the subject.
	Names []string `yaml:"names"`
	// Personal lists extra column-name patterns that mark personal data.
	Personal []string `yaml:"personal"`
	// Skip lists tables or table.column globs that discovery never reports.
	Skip []string `yaml:"skip"`
	// SampleRows is the most rows discovery reads from one table; 0 means
	// the default (1000), -1 turns sampling off (names and types only).
	SampleRows int `yaml:"sample_rows"`

	// Line is where the section starts in the file.
	Line int `yaml:"-"`
}

// checkDiscovery finds the problems of the discovery: section.
func (p *Policy) checkDiscovery(perr *Error) {
	d := p.Discovery
	if d == nil {
		return
	}
	for _, list := range [][]string{d.Names, d.Personal, d.Skip} {
		for _, pat := range list {
			if _, err := path.Match(strings.ToLower(pat), ""); err != nil || pat == "" {
				perr.Add(d.Line, "discovery: %q is not a valid name pattern (want a glob such as *_uid)", pat)
			}
		}
	}
	if d.SampleRows < -1 {
		perr.Add(d.Line, "discovery: sample_rows %d: want a positive number of rows, 0 for the default or -1 for none", d.SampleRows)
	}
}
