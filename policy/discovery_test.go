package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDiscoverySectionIsChecked(t *testing.T) {
	src := "subject:\n  table: users\n  key: id\n  requested_at: deleted_at\n  grace: 30d\n" +
		"discovery:\n  names: [\"[\"]\n  sample_rows: -2\n  bogus: 1\n"
	_, err := Parse([]byte(src), "p.yaml")
	require.ErrorContains(t, err, `unknown key "bogus" in discovery (want names, personal, skip, sample_rows)`)
	src = strings.Replace(src, "  bogus: 1\n", "", 1)
	_, err = Parse([]byte(src), "p.yaml")
	require.ErrorContains(t, err, `line 6: discovery: "[" is not a valid name pattern`)
	require.ErrorContains(t, err, "sample_rows -2")
	p, err := Parse([]byte(strings.Replace(strings.Replace(src, `["["]`, `["*_uid"]`, 1), "-2", "-1", 1)), "p.yaml")
	require.NoError(t, err)
	require.Equal(t, []string{"*_uid"}, p.Discovery.Names)
	require.Equal(t, -1, p.Discovery.SampleRows)
}
