package export

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/smtptest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
)

// TestRequestMail: with notify.smtp the person gets one mail, over
// STARTTLS, with the export's fixed Message-ID and the link, rendered
// from the policy's template; the request is then done.
func TestRequestMail(t *testing.T) {
	t.Parallel()
	mb := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	tmplDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(tmplDir, "ready.txt"),
		[]byte("Hello {{.Row.name}}, your data: {{.URL}} (until {{.ExpiresAt.Format \"2006-01-02\"}})\n"), 0o600))
	b := sampleDB(t, 20, func(pol string) string {
		return pol + fmt.Sprintf(`
export:
  request: {column: export_requested_at}
  to: "file://%s/"
  expire: 3d
  email: email
  notify:
    smtp: {from: privacy@example.com, subject: "Your data is ready", template: %q}
`, dir, filepath.Join(tmplDir, "ready.txt"))
	})
	b.db.Exec(t, `ALTER TABLE users ADD COLUMN export_requested_at timestamptz`)
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE email = 'user6@example.com'`)
	cfg := RequestConfig{Config: b.config(), SMTPURL: "smtp://" + mb.Addr, TLSConfig: &tls.Config{RootCAs: mb.Roots, ServerName: "127.0.0.1"}}
	cfg.Objects = &objstore.Router{File: filestore.Store{}}
	j, err := NewRequestJob(cfg)
	require.NoError(t, err)
	r, err := jobtest.Run(t, b.db.Pool, j, jobs.Limits{})
	require.NoError(t, err)
	require.Equal(t, int64(1), r.Counter(RequestsDone))

	got := mb.Messages()
	require.Len(t, got, 1)
	require.True(t, got[0].TLS, "over STARTTLS")
	msg, err := got[0].Parse()
	require.NoError(t, err)
	msgs := []*mail.Message{msg}
	var id string
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), `SELECT id::text FROM lethe.exports`).Scan(&id))
	require.Equal(t, "<lethe-export-"+id+"@example.com>", msgs[0].Header.Get("Message-Id"))
	require.Equal(t, "user6@example.com", strings.Trim(msgs[0].Header.Get("To"), "<>"))
	body, err := io.ReadAll(quotedprintable.NewReader(msgs[0].Body))
	require.NoError(t, err)
	require.Contains(t, string(body), "Hello User 6, your data: "+dir+"/"+id+".zip")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE export_requested_at IS NOT NULL`))
}

// TestRequestMailCrashAfterSend: a run that dies after the mail server
// accepted the mail and before that was recorded sends it again with the
// same Message-ID (the export's id, no personal data), so a reader that
// deduplicates by Message-ID sees one mail; the request is done once.
func TestRequestMailCrashAfterSend(t *testing.T) {
	t.Parallel()
	mb := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	tmpl := filepath.Join(t.TempDir(), "ready.txt")
	require.NoError(t, os.WriteFile(tmpl, []byte("Your data: {{.URL}}\n"), 0o600))
	b := sampleDB(t, 20, func(pol string) string {
		return pol + fmt.Sprintf(`
export:
  request: {column: export_requested_at}
  to: "file://%s/"
  expire: 3d
  email: email
  notify:
    smtp: {from: privacy@example.com, subject: "Your data is ready", template: %q}
`, dir, tmpl)
	})
	b.db.Exec(t, `ALTER TABLE users ADD COLUMN export_requested_at timestamptz`)
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE email = 'user6@example.com'`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := RequestConfig{Config: b.config(), SMTPURL: "smtp://" + mb.Addr, TLSConfig: &tls.Config{RootCAs: mb.Roots, ServerName: "127.0.0.1"},
		afterSend: func(string) { cancel() }}
	cfg.Objects = &objstore.Router{File: filestore.Store{}}
	j, err := NewRequestJob(cfg)
	require.NoError(t, err)
	require.Error(t, j.Run(ctx, jobs.NewSession(b.db.Pool, jobs.Limits{}, jobs.NewReport("export", false), nil)))
	require.Len(t, mb.Messages(), 1)

	cfg.afterSend = nil
	j, err = NewRequestJob(cfg)
	require.NoError(t, err)
	_, err = jobtest.Run(t, b.db.Pool, j, jobs.Limits{})
	require.NoError(t, err)
	got := mb.Messages()
	require.Len(t, got, 2, "sent again")
	var id string
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), `SELECT id::text FROM lethe.exports WHERE status = 'done'`).Scan(&id))
	distinct := map[string]bool{}
	for _, m := range got {
		distinct[m.MessageID] = true
	}
	require.Equal(t, map[string]bool{"<lethe-export-" + id + "@example.com>": true}, distinct, "one Message-ID")
}
