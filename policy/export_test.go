package policy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/policy"
)

func TestExportExcludeParses(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte(`subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30d
  export: {exclude: [pass_crypt, '"TotpSeed"']}
tables:
  - table: notes
    match: user_id
    action: delete
    export:
      exclude: [internal_flag]
`), "p.yaml")
	require.NoError(t, err)
	require.True(t, p.Subject.Export.Excludes("pass_crypt"))
	require.True(t, p.Subject.Export.Excludes("TotpSeed"))
	require.False(t, p.Subject.Export.Excludes("totpseed"))
	require.True(t, p.Tables[0].Export.Excludes("internal_flag"))
	require.False(t, p.Tables[0].Export.Excludes("body"))
}

func TestExportExcludeProblems(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ export, want string }{
		"unknown key":        {"export: {exlude: [a]}", `line 10: unknown key "exlude" in export (want exclude)`},
		"not a list":         {"export: {exclude: token}", "line 10: cannot unmarshal"},
		"qualified name":     {"export: {exclude: [notes.token]}", `line 7: rule for notes: export.exclude must list column names, not "notes.token"`},
		"repeated column":    {"export: {exclude: [token, TOKEN]}", "line 7: rule for notes: export.exclude lists TOKEN twice"},
		"export not a table": {"export: [token]", "line 10: cannot unmarshal"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := policy.Parse([]byte(`subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30d
tables:
  - table: notes
    match: user_id
    action: delete
    `+tc.export+"\n"), "p.yaml")
			require.ErrorContains(t, err, tc.want)
		})
	}
}
