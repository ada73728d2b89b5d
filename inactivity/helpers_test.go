package inactivity_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/inactivity"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

const (
	hashKey       = "test-hash-key"
	webhookSecret = "whsec-test"
	smtpUser      = "lethe"
	smtpPass      = "s3cret"
)

func readRepoFile(t testing.TB, name string) string {
	b, err := os.ReadFile(filepath.Join("..", name))
	require.NoError(t, err)
	return string(b)
}

// inactivitySection is appended to the example policy; %s is the webhook
// URL, and the channels line is replaced per test.
const inactivitySection = `
inactivity:
  last_active: last_active_at
  after: 365d
  warn: 30d
  then: request-deletion
  email: email
  notify:
%s`

// writePolicy writes the example policy with an inactivity section and the
// example templates next to it, and returns its path.
func writePolicy(t testing.TB, notify string) string {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "templates"), 0o755))
	for _, f := range []string{"inactive.txt", "inactive.html"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", f), []byte(readRepoFile(t, "examples/templates/"+f)), 0o600))
	}
	p := filepath.Join(dir, "policy.yaml")
	src := readRepoFile(t, "examples/policy.yaml") + fmt.Sprintf(inactivitySection, notify)
	require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	return p
}

func webhookNotify(url string) string {
	return fmt.Sprintf("    webhook: {url: %q, secret_env: LETHE_WEBHOOK_SECRET, timeout: 2s}\n", url)
}

const smtpNotify = `    smtp:
      from: "Privacy <privacy@example.com>"
      subject: "Your account will be deleted on {{.DeletionDate.Format \"2 January 2006\"}}"
      template: templates/inactive.txt
      html_template: templates/inactive.html
`

type bundle struct {
	t       *testing.T
	db      *pgtest.DB
	pol     *policy.Policy
	hook    *receiver
	smtp    *smtpServer
	smtpURL string
	// deliveryTimeout is the job's DeliveryTimeout: generous, so that no
	// real delivery races it, unless a test makes a receiver hang.
	deliveryTimeout time.Duration
}

// setup gives a test the example schema, a webhook receiver and an SMTP
// server, and a policy using the channels in notify ("webhook", "smtp").
func setup(t *testing.T, channels ...string) *bundle {
	t.Helper()
	b := &bundle{t: t, db: pgtest.NewDB(t, readRepoFile(t, "examples/schema.sql")), deliveryTimeout: time.Minute}
	b.hook = newReceiver(t)
	b.smtp = newSMTPServer(t)
	b.smtpURL = fmt.Sprintf("smtp://%s:%s@%s", smtpUser, smtpPass, b.smtp.Addr)
	notify := ""
	for _, c := range channels {
		switch c {
		case "webhook":
			notify += webhookNotify(b.hook.srv.URL)
		case "smtp":
			notify += smtpNotify
		}
	}
	p, err := policy.Load(writePolicy(t, notify))
	require.NoError(t, err)
	b.pol = p
	return b
}

// user inserts a subject inactive for the given number of days.
func (b *bundle) user(name string, inactiveDays int, mod ...string) string {
	id := jobtest.MD5UUID(name)
	email := name + "@example.com"
	if len(mod) > 0 && mod[0] == "no-email" {
		email = ""
	}
	b.db.Exec(b.t, `INSERT INTO users (id, email, name, last_active_at) VALUES ($1, $2, $3, now() - $4 * interval '1 day')`,
		id, email, "User "+name, inactiveDays)
	return id
}

func (b *bundle) config(mod ...func(*inactivity.Config)) inactivity.Config {
	cfg := inactivity.Config{
		Deps:            jobs.Deps{Pool: roletest.Pool(b.t, b.db, b.pol), Policy: b.pol, Hasher: subject.NewHasher(hashKey), Logger: jobtest.Logger(b.t)},
		WebhookSecret:   webhookSecret,
		SMTPURL:         b.smtpURL,
		SMTPRate:        50,
		TLSConfig:       &tls.Config{RootCAs: b.smtp.Roots},
		DeliveryTimeout: b.deliveryTimeout,
	}
	for _, m := range mod {
		m(&cfg)
	}
	return cfg
}

// run runs the inactivity job with the default limits and returns its
// report and exit code.
func (b *bundle) run(mod ...func(*inactivity.Config)) (*jobs.Report, int) {
	b.t.Helper()
	return b.runLimits(jobs.Limits{}, mod...)
}

// runLimits runs the inactivity job with limits.
func (b *bundle) runLimits(limits jobs.Limits, mod ...func(*inactivity.Config)) (*jobs.Report, int) {
	b.t.Helper()
	cfg := b.config(mod...)
	j, err := inactivity.New(cfg)
	require.NoError(b.t, err)
	r, err := jobtest.Run(b.t, cfg.Pool, j, limits)
	return r, jobs.ExitCode(err)
}

func (b *bundle) purge() (*jobs.Report, int) {
	b.t.Helper()
	pool := roletest.Pool(b.t, b.db, b.pol)
	j, err := purge.New(purge.Config{Deps: jobs.Deps{Pool: pool, Policy: b.pol, Hasher: subject.NewHasher(hashKey)}})
	require.NoError(b.t, err)
	r, err := jobtest.Run(b.t, pool, j, jobs.Limits{})
	return r, jobs.ExitCode(err)
}

// advance moves the database's clock forward by d: every timestamp the job
// compares with now() moves back by d.
func (b *bundle) advance(d time.Duration) {
	b.t.Helper()
	iv := fmt.Sprintf("%d seconds", int64(d.Seconds()))
	b.db.Exec(b.t, `UPDATE users SET last_active_at = last_active_at - $1::interval, deleted_at = deleted_at - $1::interval`, iv)
	b.db.Exec(b.t, `DO $$ BEGIN IF to_regclass('lethe.notices') IS NOT NULL THEN
		UPDATE lethe.notices SET last_active_at = last_active_at - '`+iv+`'::interval,
			created_at = created_at - '`+iv+`'::interval, sent_at = sent_at - '`+iv+`'::interval,
			webhook_sent_at = webhook_sent_at - '`+iv+`'::interval, email_sent_at = email_sent_at - '`+iv+`'::interval;
		END IF; END $$`)
}

func (b *bundle) notices(key string) int {
	return b.db.Int(b.t, `SELECT count(*) FROM lethe.notices WHERE subject_key = $1`, key)
}

func (b *bundle) status(key string) string {
	var s string
	err := b.db.Pool.QueryRow(context.Background(),
		`SELECT string_agg(status, ',' ORDER BY created_at) FROM lethe.notices WHERE subject_key = $1`, key).Scan(&s)
	require.NoError(b.t, err)
	return s
}

func (b *bundle) requested(key string) bool {
	return b.db.Int(b.t, `SELECT count(*) FROM users WHERE id = $1 AND deleted_at IS NOT NULL`, key) == 1
}

const day = 24 * time.Hour

// --- webhook receiver ---

type hookRequest struct {
	key string
	ev  inactivity.Event
}

// receiver is a real HTTP endpoint that verifies each request's signature
// with its own code (not the package's Verify) and records it. Its mode
// makes faults: a status to answer, a hang until the client gives up, or a
// block until released.
type receiver struct {
	srv *httptest.Server

	gate
	mu     sync.Mutex
	reqs   []hookRequest
	bad    []string
	status int
	hang   bool
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{status: http.StatusOK}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.handle))
	t.Cleanup(func() {
		rc.release()
		rc.srv.CloseClientConnections()
		rc.srv.Close()
	})
	return rc
}

func verifySignature(secret, header string, body []byte) error {
	var ts, sig string
	for _, p := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(p, "t="); ok {
			ts = v
		}
		if v, ok := strings.CutPrefix(p, "v1="); ok {
			sig = v
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(n, 0)).Abs() > 5*time.Minute {
		return errors.New("bad or stale timestamp")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(sig)) {
		return errors.New("signature mismatch")
	}
	return nil
}

func (rc *receiver) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := verifySignature(webhookSecret, r.Header.Get("Lethe-Signature"), body); err != nil {
		rc.mu.Lock()
		rc.bad = append(rc.bad, err.Error())
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev inactivity.Event
	_ = json.Unmarshal(body, &ev)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, hookRequest{key: r.Header.Get("Idempotency-Key"), ev: ev})
	status, hang := rc.status, rc.hang
	rc.mu.Unlock()
	rc.pass()
	if hang {
		<-r.Context().Done() // only the client's timeout ends the request
		return
	}
	w.WriteHeader(status)
}

// set makes the receiver answer status, or with hang never answer.
func (rc *receiver) set(status int, hang bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status, rc.hang = status, hang
}

// gate holds a server's deliveries once the test asks it to: blockNext
// makes the next deliveries wait, once received, until release, and
// returns a channel that receives when one arrived.
type gate struct {
	mu             sync.Mutex
	blockCh, gotCh chan struct{}
}

func (g *gate) blockNext() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blockCh, g.gotCh = make(chan struct{}), make(chan struct{}, 1)
	return g.gotCh
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blockCh != nil {
		close(g.blockCh)
		g.blockCh, g.gotCh = nil, nil
	}
}

// pass is called by the server once it received a delivery: it says so,
// and waits for release when the gate is closed.
func (g *gate) pass() {
	g.mu.Lock()
	block, got := g.blockCh, g.gotCh
	g.mu.Unlock()
	if got != nil {
		select {
		case got <- struct{}{}:
		default:
		}
	}
	if block != nil {
		<-block
	}
}

func (rc *receiver) requests() []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		panic("a webhook request carried a bad signature: " + strings.Join(rc.bad, "; "))
	}
	return append([]hookRequest{}, rc.reqs...)
}

// forKey returns the requests about one subject.
func (rc *receiver) forKey(subjectKey string) []hookRequest {
	var out []hookRequest
	for _, r := range rc.requests() {
		if r.ev.SubjectKey == subjectKey {
			out = append(out, r)
		}
	}
	return out
}
