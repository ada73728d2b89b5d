package inactivity_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/stretchr/testify/require"
)

func (b *bundle) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"LETHE_DATABASE_URL=" + b.db.URL,
		"LETHE_POLICY=" + b.pol.Path,
		"LETHE_SUBJECT_HASH_KEY=" + hashKey,
		"LETHE_WEBHOOK_SECRET=" + webhookSecret,
		"LETHE_SMTP_URL=" + b.smtpURL,
		"LETHE_SMTP_RATE=20",
		"SSL_CERT_FILE=" + b.smtp.CertPEM, // trust the test server's certificate
	}
}

func (b *bundle) lethe(env []string, args ...string) (int, string) {
	b.t.Helper()
	r := letheproc.Run(b.t, env, args...)
	return r.Code, r.Stdout + r.Stderr
}

// killWhen starts the binary, waits until got receives (a delivery reached
// the receiver, which now holds it), kills the process with SIGKILL and
// waits until its database session is gone.
func (b *bundle) killWhen(got <-chan struct{}) {
	b.t.Helper()
	cmd := exec.Command(letheBin, "--job", "inactivity")
	cmd.Env = b.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(b.t, cmd.Start())
	select {
	case <-got:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		b.t.Fatalf("no delivery reached the receiver:\n%s", out.String())
	}
	require.NoError(b.t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	b.t.Logf("killed lethe after:\n%s", out.String())
	deadline := time.Now().Add(30 * time.Second)
	for b.db.Int(b.t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'lethe'`) > 0 {
		require.True(b.t, time.Now().Before(deadline), "the killed run's session lingers")
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKilledBetweenSendingAndMarking kills the real binary while a
// receiver holds a delivery (so the kill lands after the send and before
// the notice is marked): the next run resends with the same identity, and
// there is never a third message. Each channel is killed once.
func TestKilledBetweenSendingAndMarking(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook", "smtp")
	u := b.user("u", 400)

	b.killWhen(b.hook.blockNext())
	b.hook.release()
	require.Len(t, b.hook.forKey(u), 1)
	require.Equal(t, "pending", b.status(u))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.notices WHERE webhook_sent_at IS NOT NULL`))

	b.killWhen(b.smtp.blockNext())
	b.smtp.release()
	hooks := b.hook.forKey(u)
	require.Len(t, hooks, 2, "the webhook was resent")
	require.Equal(t, hooks[0].key, hooks[1].key, "with the same Idempotency-Key")
	require.Len(t, b.smtp.Messages(), 1)
	require.Equal(t, "pending", b.status(u))

	code, _ := b.lethe(b.env(), "--job", "inactivity")
	require.Equal(t, 0, code)
	msgs := b.smtp.Messages()
	require.Len(t, msgs, 2, "the mail was resent")
	require.Equal(t, msgs[0].MessageID, msgs[1].MessageID, "with the same Message-ID")
	require.Contains(t, msgs[0].MessageID, hooks[0].key)
	require.Equal(t, "sent", b.status(u))

	code, out := b.lethe(b.env(), "--job", "inactivity", "--summary")
	require.Equal(t, 0, code)
	require.Contains(t, out, "warned: 0")
	require.Len(t, b.hook.forKey(u), 2, "never a third webhook")
	require.Len(t, b.smtp.Messages(), 2, "never a third mail")
	require.NotContains(t, out, u, "logs never hold a subject's key")
	require.NotContains(t, out, "u@example.com")
}

// TestCLIExitCodes: exit 2 naming the problem, and a dry run that says
// what it would do.
func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	b := setup(t, "webhook")
	b.user("a", 400)
	env := b.env()
	var noSecret []string
	for _, e := range env {
		if !strings.HasPrefix(e, "LETHE_WEBHOOK_SECRET=") {
			noSecret = append(noSecret, e)
		}
	}
	code, out := b.lethe(noSecret, "--job", "inactivity")
	require.Equal(t, 2, code)
	require.Contains(t, out, "LETHE_WEBHOOK_SECRET is not set")
	code, out = b.lethe(env, "--job", "inactivity", "--dry-run", "--summary")
	require.Equal(t, 0, code)
	require.Contains(t, out, "to warn: 1")
	require.Empty(t, b.hook.requests())
	code, _ = b.lethe(env, "--job", "inactivity")
	require.Equal(t, 0, code)
	require.Len(t, b.hook.requests(), 1)
}
