package inactivity_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lethe-project/lethe/inactivity"
	"github.com/stretchr/testify/require"
)

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	secret, body := []byte("s"), []byte(`{"type":"inactivity.warning"}`)
	now := time.Now()
	h := inactivity.Sign(secret, now, body)
	require.NoError(t, verifySignature("s", h, body), "the test receiver's own check agrees")
	require.NoError(t, inactivity.Verify(secret, h, body, 5*time.Minute, now))
	require.Error(t, inactivity.Verify([]byte("other"), h, body, 5*time.Minute, now))
	require.Error(t, inactivity.Verify(secret, h, []byte(`{}`), 5*time.Minute, now))
	require.Error(t, inactivity.Verify(secret, h, body, 5*time.Minute, now.Add(6*time.Minute)), "replayed too late")
	require.Error(t, inactivity.Verify(secret, "v1=abc", body, 5*time.Minute, now))
}

// TestImplicitTLS delivers through smtps:// to a server that speaks TLS
// from the first byte.
func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	b := setup(t, "smtp")
	b.smtp = startSMTPServer(t, true)
	b.smtpURL = fmt.Sprintf("smtps://%s:%s@%s", smtpUser, smtpPass, b.smtp.Addr)
	b.user("a", 400)
	r, code := b.run()
	require.Equal(t, 0, code)
	require.EqualValues(t, 1, r.Counter("warned"))
	msgs := b.smtp.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS)
}
