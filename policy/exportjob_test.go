package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExportJobSectionParses(t *testing.T) {
	p, err := Parse([]byte(inactivityBase+`export:
  request: {table: access_requests, match: user_id, requested_at: created_at, done_at: completed_at}
  to: "s3://exports/archives/"
  expire: 7d
  notify:
    webhook: {url: "https://app.internal/hooks/lethe", secret_env: LETHE_WEBHOOK_SECRET}
`), "policy.yaml")
	require.NoError(t, err)
	e := p.ExportJob
	require.Equal(t, 2, e.Line)
	require.Equal(t, 7, e.Notify.Webhook.Line)
	require.True(t, e.Request.ByTable())
	require.True(t, p.Has("export"))
}

// TestExportJobSectionProblems: every mistake in the export: section is
// named, with its line, before anything runs.
func TestExportJobSectionProblems(t *testing.T) {
	for _, c := range []struct{ section, want string }{
		{"export: {to: \"s3://b/p/\", expire: 7d, notify: {webhook: {url: \"https://x/h\", secret_env: S}}}",
			"export.request needs column:"},
		{"export: {request: {column: a, table: t}, to: \"s3://b/p/\", expire: 7d, notify: {webhook: {url: \"https://x/h\", secret_env: S}}}",
			"give column: or table:, not both"},
		{"export: {request: {table: t, match: m}, to: \"s3://b/p/\", expire: 7d, notify: {webhook: {url: \"https://x/h\", secret_env: S}}}",
			"needs match:, requested_at: and done_at:"},
		{"export: {request: {column: a}, to: \"s3://b/p\", expire: 7d, notify: {webhook: {url: \"https://x/h\", secret_env: S}}}",
			"export.to must be s3://bucket/prefix/ or file:///directory/"},
		{"export: {request: {column: a}, to: \"file:///srv/../x/\", expire: 7d, notify: {webhook: {url: \"https://x/h\", secret_env: S}}}",
			"export.to must be"},
		{"export: {request: {column: a}, to: \"s3://b/p/\", notify: {webhook: {url: \"https://x/h\", secret_env: S}}}",
			"export.expire is required"},
		{"export: {request: {column: a}, to: \"s3://b/p/\", expire: 7d}",
			"export.notify needs webhook:, smtp: or both"},
		{"export: {request: {column: a}, to: \"s3://b/p/\", expire: 7d, notify: {smtp: {from: a@b.c, subject: s, template: t.txt}}}",
			"export.email is required with notify.smtp"},
		{"export: {request: {column: a}, to: \"s3://b/p/\", expire: 7d, keep: 1d, notify: {webhook: {url: \"https://x/h\", secret_env: S}}}",
			`unknown key "keep" in export (want request, to, expire, email, notify)`},
	} {
		_, err := Parse([]byte(inactivityBase+c.section+"\n"), "policy.yaml")
		require.Error(t, err, c.section)
		require.Contains(t, err.Error(), c.want, c.section)
		require.True(t, strings.Contains(err.Error(), ":2:") || strings.Contains(err.Error(), "line 2"), "%s: names the line: %v", c.section, err)
	}
	_, err := Parse([]byte("export: {request: {column: a}, to: \"s3://b/p/\", expire: 7d, notify: {webhook: {url: \"https://x/h\", secret_env: S}}}\n"), "policy.yaml")
	require.ErrorContains(t, err, "export: needs a subject: section")
}
