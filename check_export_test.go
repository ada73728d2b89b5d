package main

import (
	"bytes"
	"testing"

	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

// TestCheckWarnsWhenAnArchiveOutlivesTheGrace: the purge does not erase
// the export job's archives; one that expires after the grace period may
// outlive the erasure, and lethe check says so.
func TestCheckWarnsWhenAnArchiveOutlivesTheGrace(t *testing.T) {
	src := func(expire string) *policy.Policy {
		p, err := policy.Parse([]byte(`subject: {table: users, key: id, requested_at: gone, grace: 3d}
export:
  request: {column: export_requested_at}
  to: "s3://exports/archives/"
  expire: `+expire+`
  notify: {webhook: {url: "https://app.internal/hooks/lethe", secret_env: S}}
`), "p.yaml")
		require.NoError(t, err)
		return p
	}
	var out bytes.Buffer
	warnExportExpiry(&out, nil, src("7d"))
	require.Contains(t, out.String(), "export.expire (168h0m0s) is not shorter than subject.grace (72h0m0s)")
	out.Reset()
	warnExportExpiry(&out, nil, src("2d"))
	require.Empty(t, out.String())
}
