package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const inactivitySection = `
inactivity:
  last_active: last_active_at
  after: 365d
  warn: 30d
  then: request-deletion
  notify:
    webhook: {url: %q, secret_env: LETHE_WEBHOOK_SECRET, timeout: 5s}
`

// hooks is a webhook receiver that records each delivery and, as a real
// receiver is told to (docs/export.md, docs/inactivity.md), acts on a
// notice once per Idempotency-Key: a repeat is answered 2xx and ignored.
type hooks struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  map[string][]string // subject key → Idempotency-Keys received, repeats included
	seen map[string]bool     // Idempotency-Keys acted on
	acts map[string]int      // subject key → notices acted on
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{got: map[string][]string{}, seen: map[string]bool{}, acts: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			SubjectKey string `json:"subject_key"`
		}
		_ = json.Unmarshal(body, &ev)
		id := r.Header.Get("Idempotency-Key")
		h.mu.Lock()
		h.got[ev.SubjectKey] = append(h.got[ev.SubjectKey], id)
		if id != "" && !h.seen[id] {
			h.seen[id] = true
			h.acts[ev.SubjectKey]++
		}
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// deliveries returns the Idempotency-Keys of every delivery for key,
// repeats included.
func (h *hooks) deliveries(key string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, h.got[key]...)
}

// notices returns how many notices for key the receiver acted on, once
// deduplicated by Idempotency-Key.
func (h *hooks) notices(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acts[key]
}

type inactivityWorld struct {
	t                          *testing.T
	db                         *pgtest.DB
	env                        []string
	hooks                      *hooks
	warn, request, close, rest []string
}

// newInactivityWorld: 30 subjects inactive for 400 days (to warn), 15 warned
// 40 days ago and still inactive (to hand to the purge), 10 warned and
// active again (to close), and 200 active ones.
func newInactivityWorld(t *testing.T) *inactivityWorld {
	t.Helper()
	w := &inactivityWorld{t: t, hooks: newHooks(t)}
	w.db = pgtest.NewDB(t, repoFile(t, "examples/schema.sql"))
	installTrap(t, w.db, "users", "lethe.notices", "lethe.runs")
	group := func(name string, n, inactiveDays int) []string {
		var keys []string
		for i := range n {
			k := jobtest.MD5UUID(fmt.Sprint(name, i))
			keys = append(keys, k)
			w.db.Exec(t, `INSERT INTO users (id, email, name, last_active_at) VALUES ($1, $2, 'x', now() - $3 * interval '1 day')`,
				k, fmt.Sprintf("%s%d@example.com", name, i), inactiveDays)
		}
		return keys
	}
	w.warn, w.request, w.close, w.rest = group("warn", 30, 400), group("request", 15, 450), group("close", 10, 1), group("rest", 200, 3)
	w.db.Exec(t, `INSERT INTO lethe.notices (subject_key, last_active_at, status, needs_webhook, needs_email, webhook_sent_at, sent_at, created_at)
		SELECT id::text, last_active_at, 'sent', true, false, now() - interval '40 days', now() - interval '40 days', now() - interval '40 days'
		FROM users WHERE id = ANY($1::uuid[])`, w.request)
	w.db.Exec(t, `INSERT INTO lethe.notices (subject_key, last_active_at, status, needs_webhook, needs_email, webhook_sent_at, sent_at, created_at)
		SELECT id::text, now() - interval '400 days', 'sent', true, false, now() - interval '10 days', now() - interval '10 days', now() - interval '10 days'
		FROM users WHERE id = ANY($1::uuid[])`, w.close)
	dir := t.TempDir()
	pol := strings.Replace(repoFile(t, "examples/policy.yaml"), "file:///var/lib/app/uploads/", "file://"+dir+"/", 1) +
		fmt.Sprintf(inactivitySection, w.hooks.srv.URL)
	path := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(pol), 0o600))
	w.env = []string{"LETHE_DATABASE_URL=" + w.db.URL, "LETHE_POLICY=" + path, "LETHE_SUBJECT_HASH_KEY=" + hashKey,
		"LETHE_WEBHOOK_SECRET=whsec", "LETHE_BATCH_SIZE=4"}
	return w
}

// notices returns each subject's notices as "status" (deleted_at set: "+requested").
func (w *inactivityWorld) states(keys []string) map[string]string {
	w.t.Helper()
	rows, err := w.db.Pool.Query(context.Background(), `SELECT u.id::text,
		COALESCE((SELECT string_agg(status, ',' ORDER BY created_at) FROM lethe.notices WHERE subject_key = u.id::text), '')
		|| CASE WHEN u.deleted_at IS NOT NULL THEN '+requested' ELSE '' END
		FROM users u WHERE u.id = ANY($1::uuid[])`, keys)
	require.NoError(w.t, err)
	out := map[string]string{}
	for rows.Next() {
		var k, s string
		require.NoError(w.t, rows.Scan(&k, &s))
		out[k] = s
	}
	require.NoError(w.t, rows.Err())
	return out
}

// check: a subject's deletion is requested exactly when its notice says
// so; nobody is warned twice for one period, every delivery of a notice
// carries its one Idempotency-Key; active subjects are never touched.
// After a rerun every notice is where it must end.
func (w *inactivityWorld) check(stage string, final bool) {
	t := w.t
	t.Helper()
	var problems []string
	expect := func(keys []string, allowed, finalState string) {
		for k, s := range w.states(keys) {
			ok := false
			for _, a := range strings.Split(allowed, "|") {
				ok = ok || s == a
			}
			if !ok || (final && s != finalState) {
				problems = append(problems, fmt.Sprintf("subject %s: %q, want one of %s (after a rerun: %s)", w.hashOf(k), s, allowed, finalState))
			}
		}
	}
	expect(w.warn, "|pending|sent", "sent")
	expect(w.request, "sent|requested+requested", "requested+requested")
	expect(w.close, "sent|closed", "closed")
	expect(w.rest, "", "")
	for _, k := range append(append([]string{}, w.warn...), w.request...) {
		d := w.hooks.deliveries(k)
		for _, id := range d {
			if id != d[0] {
				problems = append(problems, fmt.Sprintf("subject %s warned under two identities", w.hashOf(k)))
				break
			}
		}
		if final && len(d) == 0 && contains(w.warn, k) {
			problems = append(problems, fmt.Sprintf("subject %s: notice sent but never delivered", w.hashOf(k)))
		}
	}
	if final {
		if n := w.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'running'`); n > 0 {
			problems = append(problems, fmt.Sprintf("%d run(s) still 'running' after a rerun", n))
		}
	}
	assert.Empty(t, problems, "%s: invariants broken (seed %d)", stage, seed)
}

func (w *inactivityWorld) hashOf(k string) string { return k[:8] + "…" }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// rerun runs the job to its end and checks its recorded report against
// what it committed while it ran.
func (w *inactivityWorld) rerun() {
	t := w.t
	t.Helper()
	code, out := runLethe(t, w.env, "--job", "inactivity")
	require.Equal(t, 0, code, out)
	var id int64
	var text string
	var started, finished time.Time
	require.NoError(t, w.db.Pool.QueryRow(context.Background(), `SELECT id, report::text, started_at, finished_at FROM lethe.runs
		WHERE job = 'inactivity' AND status = 'succeeded' ORDER BY id DESC LIMIT 1`).Scan(&id, &text, &started, &finished))
	var r runReport
	require.NoError(t, json.Unmarshal([]byte(text), &r))
	count := func(col string) int64 {
		return int64(w.db.Int(t, `SELECT count(*) FROM lethe.notices WHERE `+col+` BETWEEN $1 AND $2`, started, finished))
	}
	assert.Equal(t, count("sent_at"), r.Counters["warned"], "run %d: warned (seed %d)", id, seed)
	assert.Equal(t, count("requested_at"), r.Counters["deletion_requested"], "run %d: deletion_requested (seed %d)", id, seed)
	assert.Equal(t, count("closed_at"), r.Counters["closed_active_again"], "run %d: closed_active_again (seed %d)", id, seed)
}

// TestInactivityKilledAtRandomPoints kills the inactivity job at seeded
// random points: while closing, requesting deletions, recording notices
// and delivering them (between the send and the mark).
func TestInactivityKilledAtRandomPoints(t *testing.T) {
	t.Parallel()
	rng := rngFor(t)
	landed := 0
	for round := 0; landed < 20 && round < 6; round++ {
		w := newInactivityWorld(t)
		tr := newTrap(t, w.db)
		for range 10 {
			ok := kill(t, tr, rng, 15, w.env, "--job", "inactivity")
			w.check(fmt.Sprintf("round %d, after a kill", round), false)
			if !ok {
				break
			}
			landed++
		}
		w.rerun()
		w.check(fmt.Sprintf("round %d, after the rerun", round), true)
	}
	require.GreaterOrEqual(t, landed, 20, "kills that landed while lethe ran")
}
