// Package smtptest is the one test SMTP server of lethe's tests: go-smtp's
// server in the test process, with STARTTLS (or implicit TLS) on a
// self-signed certificate, AUTH PLAIN when a user is set, that keeps every
// message it accepts. Its faults are real SMTP answers (an error code at
// DATA) and a hook that can hold a delivery after the message was read.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// Message is one message the server accepted.
type Message struct {
	// To is the last RCPT TO address.
	To string
	// MessageID is the Message-Id header, with its angle brackets.
	MessageID string
	// Subject is the decoded Subject header.
	Subject string
	// Raw is the message as sent.
	Raw string
	// TLS is true when it came over TLS.
	TLS bool
}

// Parse reads the raw message (headers and body).
func (m Message) Parse() (*mail.Message, error) { return mail.ReadMessage(strings.NewReader(m.Raw)) }

// Options configure a Server.
type Options struct {
	// User and Pass, when User is set, are the only credentials AUTH PLAIN
	// accepts (offered only over TLS), and a MAIL without them is refused.
	User, Pass string
	// ImplicitTLS makes the server speak TLS from the first byte (smtps)
	// instead of offering STARTTLS.
	ImplicitTLS bool
	// Received, when set, runs after each message was kept, before the
	// server answers: a test can hold a delivery there.
	Received func()
}

// Server is a running test SMTP server, closed when the test ends.
type Server struct {
	// Addr is host:port.
	Addr string
	// Roots trusts the server's certificate.
	Roots *x509.CertPool
	// CertPEM is a file holding the certificate (for SSL_CERT_FILE).
	CertPEM string

	opts   Options
	srv    *smtp.Server
	mu     sync.Mutex
	msgs   []Message
	failAt int
}

// Start starts a server on 127.0.0.1.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	cert, pemBytes := selfSigned(t)
	s := &Server{Roots: x509.NewCertPool(), opts: opts}
	s.Roots.AppendCertsFromPEM(pemBytes)
	s.CertPEM = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(s.CertPEM, pemBytes, 0o600))
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, c: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.Addr = l.Addr().String()
	if opts.ImplicitTLS {
		l = tls.NewListener(l, s.srv.TLSConfig)
	}
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// SetFail makes DATA answer code (a 4xx or 5xx) until set back to 0.
func (s *Server) SetFail(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAt = code
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message{}, s.msgs...)
}

type session struct {
	s      *Server
	c      *smtp.Conn
	authed bool
	to     string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Pass {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(string, *smtp.MailOptions) error {
	if ss.s.opts.User != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = to
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	code := ss.s.failAt
	ss.s.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, Message: "try again later, " + ss.to}
	}
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, Message{To: ss.to, MessageID: m.Header.Get("Message-Id"), Subject: subj, Raw: string(raw), TLS: isTLS})
	ss.s.mu.Unlock()
	if ss.s.opts.Received != nil {
		ss.s.opts.Received()
	}
	return nil
}

func (ss *session) Reset()        {}
func (ss *session) Logout() error { return nil }

func selfSigned(t testing.TB) (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lethe test SMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemBytes
}
