package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDurationTotalIsBounded: each component used to be bounded but not the
// sum, so 200y200y200y wrapped to 15 years and 200y200y184y344d34m34s to one
// hour, and a retention rule with it deleted every row.
func TestDurationTotalIsBounded(t *testing.T) {
	for _, bad := range []string{"200y200y200y", "200y200y184y344d34m34s", "101y", "100y1s", "5300w", "9223372036s"} {
		_, err := ParseDuration(bad)
		require.ErrorContains(t, err, "longer than 100 years", bad)
	}
	for _, ok := range []string{"100y", "99y52w", "36500d"} {
		_, err := ParseDuration(ok)
		require.NoError(t, err, ok)
	}
	src := "subject:\n  table: users\n  key: id\n  requested_at: deleted_at\n  grace: 30d\nretention:\n  - table: logs\n    column: at\n    keep: 200y200y184y344d34m34s\n"
	_, err := Parse([]byte(src), "p.yaml")
	require.ErrorContains(t, err, "line 9: duration \"200y200y184y344d34m34s\" is longer than 100 years")
	require.False(t, strings.Contains(err.Error(), "1h"))
}

// TestEveryDecodeProblemInOneRun: the first bad duration or name stopped
// the decoder, hiding every later problem of the file.
func TestEveryDecodeProblemInOneRun(t *testing.T) {
	src := `subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30x
retention:
  - table: logs
    column: at
    keep: 200y200y
  - table: "a..b"
    column: at
    keep: 1d
    colour: red
`
	_, err := Parse([]byte(src), "p.yaml")
	var perr *Error
	require.ErrorAs(t, err, &perr)
	msg := err.Error()
	for _, want := range []string{
		`line 5: duration "30x": unknown unit 'x'`,
		`line 9: duration "200y200y" is longer than 100 years`,
		`line 10: name "a..b" has an empty part`,
		`line 13: unknown key "colour" in a retention: rule`,
	} {
		require.Contains(t, msg, want)
	}
}
