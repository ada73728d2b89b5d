package export

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
)

// mailbox is a real SMTP server (go-smtp) in the test process, STARTTLS
// on a self-signed certificate, that keeps every message.
type mailbox struct {
	addr  string
	roots *x509.CertPool
	mu    sync.Mutex
	msgs  []*mail.Message
	raw   []string
}

func newMailbox(t *testing.T) *mailbox {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lethe test SMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	mb := &mailbox{roots: x509.NewCertPool()}
	mb.roots.AddCert(cert)
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mb.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return mb
}

func (mb *mailbox) messages() ([]*mail.Message, []string) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]*mail.Message(nil), mb.msgs...), append([]string(nil), mb.raw...)
}

type mailSession struct{ mb *mailbox }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Reset()                               {}
func (s *mailSession) Logout() error                        { return nil }

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, m)
	s.mb.raw = append(s.mb.raw, string(raw))
	s.mb.mu.Unlock()
	return nil
}

// TestRequestMail: with notify.smtp the person gets one mail, over
// STARTTLS, with the export's fixed Message-ID and the link, rendered
// from the policy's template; the request is then done.
func TestRequestMail(t *testing.T) {
	t.Parallel()
	mb := newMailbox(t)
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
	cfg := RequestConfig{Config: b.config(), SMTPURL: "smtp://" + mb.addr, TLSConfig: &tls.Config{RootCAs: mb.roots, ServerName: "127.0.0.1"}}
	cfg.Objects = &objstore.Router{File: filestore.Store{}}
	j, err := NewRequestJob(cfg)
	require.NoError(t, err)
	r, err := jobtest.Run(t, b.db.Pool, j, jobs.Limits{})
	require.NoError(t, err)
	require.Equal(t, int64(1), r.Counter(RequestsDone))

	msgs, _ := mb.messages()
	require.Len(t, msgs, 1)
	var id string
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), `SELECT id::text FROM lethe.exports`).Scan(&id))
	require.Equal(t, "<lethe-export-"+id+"@example.com>", msgs[0].Header.Get("Message-Id"))
	require.Equal(t, "user6@example.com", strings.Trim(msgs[0].Header.Get("To"), "<>"))
	body, err := io.ReadAll(quotedprintable.NewReader(msgs[0].Body))
	require.NoError(t, err)
	require.Contains(t, string(body), "Hello User 6, your data: "+dir+"/"+id+".zip")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE export_requested_at IS NOT NULL`))
}
