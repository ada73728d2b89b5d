package policy

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

const retentionOnly = `retention:
  - table: audit_events
    column: created_at
    keep: 90d
`

// TestRetentionOnlyPolicyNeedsNoSubject: subject: used to be required even
// when only retention: was used.
func TestRetentionOnlyPolicyNeedsNoSubject(t *testing.T) {
	p, err := Parse([]byte(retentionOnly), "p.yaml")
	require.NoError(t, err)
	require.NoError(t, p.Require("the retention job", "retention"))
	for _, tc := range []struct {
		what     string
		sections []string
		want     string
	}{
		{"the purge job", []string{"subject"}, "the purge job needs a subject: section"},
		{"lethe erase", []string{"subject"}, "lethe erase needs a subject: section"},
		{"the inactivity job", []string{"subject", "inactivity"}, "the inactivity job needs a subject: section and an inactivity: section"},
		{"the orphans job", []string{"orphans"}, "the orphans job needs an orphans: section"},
	} {
		err := p.Require(tc.what, tc.sections...)
		var perr *Error
		require.True(t, errors.As(err, &perr), tc.what)
		require.ErrorContains(t, err, tc.want, tc.what)
	}
}

// TestEachSectionIsRequiredOnlyByItsJobs: a purge-only policy does not
// satisfy retention, and sections that only make sense with a subject say
// so.
func TestEachSectionIsRequiredOnlyByItsJobs(t *testing.T) {
	p, err := Parse([]byte("subject: {table: users, key: id, requested_at: deleted_at, grace: 30d}\n"), "p.yaml")
	require.NoError(t, err)
	require.NoError(t, p.Require("the purge job", "subject"))
	require.ErrorContains(t, p.Require("the retention job", "retention"), "the retention job needs a retention: section")

	_, err = Parse([]byte(retentionOnly+"tables:\n  - table: notes\n    match: user_id\n    action: delete\n"), "p.yaml")
	require.ErrorContains(t, err, "line 6: tables: needs a subject: section")
	_, err = Parse([]byte(retentionOnly+"orphans:\n  invites:\n    - table: invites\n      inviter: invited_by\n"), "p.yaml")
	require.ErrorContains(t, err, "orphans: invites: needs a subject: section")
	_, err = Parse([]byte("{}\n"), "p.yaml")
	require.ErrorContains(t, err, "the policy has no sections")
}
