package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const inactivityBase = `subject: {table: users, key: id, requested_at: deleted_at, grace: 30d}
`

func TestInactivitySectionParsesWithLines(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "templates"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "inactive.txt"), []byte("Hello {{.Row.name}}, since {{.LastActive}}"), 0o600))
	src := inactivityBase + `inactivity:
  last_active: last_active_at
  after: 365d
  warn: 30d
  then: request-deletion
  email: email
  notify:
    webhook: {url: "https://app.internal/hooks/lethe", secret_env: LETHE_WEBHOOK_SECRET}
    smtp:
      from: privacy@example.com
      subject: "Your account"
      template: templates/inactive.txt
`
	p, err := Parse([]byte(src), filepath.Join(dir, "policy.yaml"))
	require.NoError(t, err)
	in := p.Inactivity
	require.Equal(t, 2, in.Line)
	require.Equal(t, 9, in.Notify.Webhook.Line)
	require.Equal(t, 10, in.Notify.SMTP.Line)
	require.Equal(t, RequestDeletion, in.Then)
	tm, err := in.Notify.SMTP.Templates(p.Path)
	require.NoError(t, err)
	require.NotNil(t, tm.Text)
	require.Nil(t, tm.HTML)
}

func TestInactivityProblemsAreNamed(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.txt"), []byte("Hello {{.Row.name"), 0o600))
	for src, want := range map[string]string{
		"inactivity:\n  after: 1y\n  warn: 30d\n  then: request-deletion\n  notify: {webhook: {url: 'https://x', secret_env: S}}\n":                                        "line 2: inactivity.last_active is required",
		"inactivity:\n  last_active: a\n  after: 1y\n  warn: 30d\n  then: delete-now\n  notify: {webhook: {url: 'https://x', secret_env: S}}\n":                            `inactivity.then must be request-deletion or notify-only, not "delete-now"`,
		"inactivity:\n  last_active: a\n  after: 1y\n  then: notify-only\n  notify: {webhook: {url: 'https://x', secret_env: S}}\n":                                        "inactivity.warn is required",
		"inactivity:\n  last_active: a\n  after: 1y\n  warn: 1d\n  then: notify-only\n  notify: {}\n":                                                                      "inactivity.notify needs webhook:, smtp: or both",
		"inactivity:\n  last_active: a\n  after: 1y\n  warn: 1d\n  then: notify-only\n  notify:\n    webhook: {url: 'ftp://x', secret_env: 'A B'}\n":                       "line 8: inactivity.notify.webhook.url must be an http or https URL",
		"inactivity:\n  last_active: a\n  after: 1y\n  warn: 1d\n  then: notify-only\n  notify:\n    webhook: {url: 'https://x', secret_env: 'A B'}\n":                     `secret_env must name the environment variable`,
		"inactivity:\n  last_active: a\n  after: 1y\n  warn: 1d\n  then: notify-only\n  notify:\n    smtp: {from: x, subject: s, template: missing.txt}\n":                 "inactivity.email is required with notify.smtp",
		"inactivity:\n  last_active: a\n  email: e\n  after: 1y\n  warn: 1d\n  then: notify-only\n  notify:\n    smtp: {from: a@b.c, subject: s, template: missing.txt}\n": "line 9: inactivity.notify.smtp: template: open",
		"inactivity:\n  last_active: a\n  email: e\n  after: 1y\n  warn: 1d\n  then: notify-only\n  notify:\n    smtp: {from: a@b.c, subject: s, template: broken.txt}\n":  "unclosed action",
		"inactivity:\n  last_active: a\n  after: 1y\n  warn: 1d\n  then: notify-only\n  notify: {webhook: {url: 'https://x', secret_env: S, secret: x}}\n":                 `unknown key "secret" in inactivity.notify.webhook`,
	} {
		_, err := Parse([]byte(inactivityBase+src), filepath.Join(dir, "p.yaml"))
		require.Error(t, err, src)
		require.Contains(t, err.Error(), want, src)
	}
}
