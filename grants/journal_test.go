package grants_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIAMPolicyCoversTheJournal: issue 14. With an s3:// erasure journal,
// the IAM policy lets lethe list, write, read and expire objects under the
// journal's prefix, and only there.
func TestIAMPolicyCoversTheJournal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := append(append([]string{}, b.env...), "LETHE_JOURNAL=s3://audit/lethe/journal/")
	r := b.lethe(env, "grants", "--format", "iam")
	require.Equal(t, 0, r.Code, r.Stderr)
	var doc struct {
		Statement []struct {
			Sid       string
			Action    []string
			Resource  []string
			Condition map[string]map[string][]string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc), r.Stdout)
	require.Len(t, doc.Statement, 2, "the example's objects are file://: only the journal")
	require.Equal(t, []string{"arn:aws:s3:::audit"}, doc.Statement[0].Resource)
	require.Equal(t, []string{"lethe/journal/*"}, doc.Statement[0].Condition["StringLike"]["s3:prefix"])
	require.Equal(t, []string{"arn:aws:s3:::audit/lethe/journal/*"}, doc.Statement[1].Resource)
	require.ElementsMatch(t, []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}, doc.Statement[1].Action)

	r = b.lethe(b.env, "grants", "--format", "iam")
	require.Equal(t, 2, r.Code, "no s3:// location and no journal: no IAM policy")
}
