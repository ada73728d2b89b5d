package inactivity_test

import (
	"testing"

	"github.com/lethe-project/lethe/internal/smtptest"
)

// smtpServer is the test SMTP server (internal/smtptest) with AUTH PLAIN
// for smtpUser and smtpPass, whose gate can hold a delivery after the
// message was read.
type smtpServer struct {
	*smtptest.Server
	gate
}

func newSMTPServer(t *testing.T) *smtpServer { return startSMTPServer(t, false) }

// startSMTPServer starts the server; implicitTLS makes it speak TLS from
// the first byte (smtps) instead of offering STARTTLS.
func startSMTPServer(t *testing.T, implicitTLS bool) *smtpServer {
	s := &smtpServer{}
	s.Server = smtptest.Start(t, smtptest.Options{User: smtpUser, Pass: smtpPass, ImplicitTLS: implicitTLS, Received: s.pass})
	// Registered after the server's cleanup, so it runs first: a held
	// delivery is let go before the server closes.
	t.Cleanup(s.release)
	return s
}
