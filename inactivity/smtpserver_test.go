package inactivity_test

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

type mailMsg struct {
	to, messageID, subject string
	raw                    string
	tls                    bool
}

// smtpServer is go-smtp's server in this process, with STARTTLS on a
// self-signed certificate and AUTH PLAIN (offered only over TLS). Its mode
// makes faults: an SMTP error code at DATA, or a block after the message
// was read.
type smtpServer struct {
	addr    string
	roots   *x509.CertPool
	certPEM string
	srv     *smtp.Server

	gate
	mu     sync.Mutex
	msgs   []mailMsg
	failAt int
}

func newSMTPServer(t *testing.T) *smtpServer { return startSMTPServer(t, false) }

// startSMTPServer starts the server; implicitTLS makes it speak TLS from
// the first byte (smtps) instead of offering STARTTLS.
func startSMTPServer(t *testing.T, implicitTLS bool) *smtpServer {
	cert, pemBytes := selfSigned(t)
	s := &smtpServer{roots: x509.NewCertPool()}
	s.roots.AppendCertsFromPEM(pemBytes)
	s.certPEM = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(s.certPEM, pemBytes, 0o600))
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s, c: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = l.Addr().String()
	if implicitTLS {
		l = tls.NewListener(l, s.srv.TLSConfig)
	}
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { s.release(); _ = s.srv.Close() })
	return s
}

func (s *smtpServer) setFail(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAt = code
}

func (s *smtpServer) messages() []mailMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mailMsg{}, s.msgs...)
}

type smtpSession struct {
	s      *smtpServer
	c      *smtp.Conn
	authed bool
	to     string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPass {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(string, *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = to
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
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
	ss.s.msgs = append(ss.s.msgs, mailMsg{to: ss.to, messageID: m.Header.Get("Message-Id"), subject: subj, raw: string(raw), tls: isTLS})
	ss.s.mu.Unlock()
	ss.s.pass()
	return nil
}

func (ss *smtpSession) Reset()        {}
func (ss *smtpSession) Logout() error { return nil }

func selfSigned(t *testing.T) (tls.Certificate, []byte) {
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
