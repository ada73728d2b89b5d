package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// orgsSchema adds organizations to the example schema for the orphans
// job; a membership goes with its user (the purge) or its organization.
const orgsSchema = `
CREATE TABLE organizations (id uuid PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE memberships (id bigserial PRIMARY KEY,
	org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id uuid NOT NULL REFERENCES users (id));
CREATE INDEX ON memberships (org_id);
CREATE INDEX ON memberships (user_id);
`

const orgsPolicy = `
orphans:
  organizations:
    - table: organizations
      key: id
      members: {table: memberships, match: org_id}
      created_at: created_at
      min_age: 1d
`

func concurrentPolicy(hookURL string) func(string) string {
	return func(pol string) string {
		pol = strings.Replace(pol, "\nignore:\n", "\n  - table: memberships\n    match: user_id\n    action: delete\n\nignore:\n", 1)
		return pol + orgsPolicy + fmt.Sprintf(inactivitySection, hookURL)
	}
}

// app is the application at work while lethe runs: it inserts rows for
// subjects being purged and restores some accounts (clears deleted_at),
// recording whether each restore found the row (true) or came too late.
type app struct {
	pool     *pgxpool.Pool
	rng      *rand.Rand
	mu       sync.Mutex
	restored map[string]bool
	inserted map[string]int
	errs     []error
}

// loop runs until stop is closed or it has done ops operations.
func (a *app) loop(ctx context.Context, eligible []string, ops int, stop <-chan struct{}) {
	toRestore := map[string]bool{}
	for _, k := range eligible {
		if a.rng.IntN(4) == 0 {
			toRestore[k] = true
		}
	}
	for i := 0; i < ops; i++ {
		select {
		case <-stop:
			return
		default:
		}
		k := eligible[a.rng.IntN(len(eligible))]
		if toRestore[k] {
			delete(toRestore, k)
			tag, err := a.pool.Exec(ctx, `UPDATE users SET deleted_at = NULL WHERE id = $1`, k)
			if err != nil {
				a.fail(err)
				continue
			}
			a.mu.Lock()
			a.restored[k] = tag.RowsAffected() == 1
			a.mu.Unlock()
			continue
		}
		_, err := a.pool.Exec(ctx, `WITH s AS (INSERT INTO sessions (user_id, ip) VALUES ($1, '198.51.100.7'))
			INSERT INTO wishlists (user_id, title) VALUES ($1, 'new')`, k)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" {
			continue // the subject is gone: the application's insert fails, as it must
		}
		if err != nil {
			a.fail(err)
			continue
		}
		a.mu.Lock()
		a.inserted[k]++
		a.mu.Unlock()
	}
}

func (a *app) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err)
}

// TestEverythingAtOnce runs all four jobs and two purges at once while the
// application inserts rows for the subjects being purged and restores
// accounts: no subject half erased, a subject restored before its batch
// locked it stays intact, one restored too late is erased with its
// receipt; then each job again, and the final invariants.
func TestEverythingAtOnce(t *testing.T) {
	t.Parallel()
	rng := rngFor(t)
	hooks := newHooks(t)
	w := newWorldOn(t, nil, 400, orgsSchema, concurrentPolicy(hooks.srv.URL))
	w.members, w.retention = true, true
	// Inactive subjects for the inactivity job; organizations with no
	// member, with a member due for the purge, and with one who is not.
	w.db.Exec(t, `UPDATE users SET last_active_at = now() - interval '400 days'
		WHERE deleted_at IS NULL AND (substr(email, 5, length(email) - 16))::int % 7 = 3`)
	w.db.Exec(t, `INSERT INTO organizations (id, name, created_at)
		SELECT md5('org' || i)::uuid, 'o', now() - interval '2 days' FROM generate_series(1, 100) i`)
	var due, kept []string
	for _, k := range w.keys {
		if w.eligible[k] {
			due = append(due, k)
		} else if len(kept) < 80 {
			kept = append(kept, k)
		}
	}
	for i := range 100 {
		switch {
		case i < 8: // no member
		case i < 8+len(due) && i < 20:
			w.db.Exec(t, `INSERT INTO memberships (org_id, user_id) VALUES (md5('org' || $1::int)::uuid, $2)`, i+1, due[i-8])
		default:
			w.db.Exec(t, `INSERT INTO memberships (org_id, user_id) VALUES (md5('org' || $1::int)::uuid, $2)`, i+1, kept[i%len(kept)])
		}
	}
	w.initial = w.holdings()
	keptOrgs := w.db.Int(t, `SELECT count(DISTINCT org_id) FROM memberships WHERE user_id = ANY($1::uuid[])`, kept)
	env := append(w.env, "LETHE_WEBHOOK_SECRET=whsec", "LETHE_BATCH_SIZE=2", "LETHE_WORKERS=2")

	a := &app{pool: w.db.Pool, rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), restored: map[string]bool{}, inserted: map[string]int{}}
	stop := make(chan struct{})
	var appDone sync.WaitGroup
	appDone.Add(1)
	go func() { defer appDone.Done(); a.loop(context.Background(), due, 3000, stop) }()
	jobs := []string{"purge", "purge", "retention", "inactivity", "orphans"}
	procs := make([]*proc, len(jobs))
	for i, j := range jobs {
		procs[i] = startLethe(t, env, "--job", j)
	}
	for i, p := range procs {
		code := p.wait(t)
		t.Logf("lethe --job %s → %d\n%s", jobs[i], code, p.out.String())
		assert.Equal(t, 0, code, "concurrent runs never fail because of each other: %s", jobs[i])
	}
	close(stop)
	appDone.Wait()
	require.Empty(t, a.errs, "the application's own statements")
	late := 0
	for _, r := range a.restored {
		if !r {
			late++
		}
	}
	t.Logf("application: inserts for %d subjects, %d restores (%d too late)", len(a.inserted), len(a.restored), late)
	w.inserted = a.inserted
	w.checkPurge("all jobs at once", false, a.restored)
	w.checkAfterAll("all jobs at once", keptOrgs, kept, false)

	for _, j := range []string{"purge", "retention", "inactivity", "orphans"} {
		code, out := runLethe(t, env, "--job", j)
		require.Equal(t, 0, code, out)
	}
	w.checkPurge("after each job again", true, a.restored)
	w.checkAfterAll("after each job again", keptOrgs, kept, true)
}

// checkAfterAll: organizations of kept members stay, an erased subject
// leaves no notice, no activity row is older than the retention rule
// after a rerun, and organizations without members are gone.
func (w *world) checkAfterAll(stage string, keptOrgs int, kept []string, final bool) {
	t := w.t
	t.Helper()
	var problems []string
	if n := w.db.Int(t, `SELECT count(DISTINCT o.id) FROM organizations o JOIN memberships m ON m.org_id = o.id
		WHERE m.user_id = ANY($1::uuid[])`, kept); n != keptOrgs {
		problems = append(problems, fmt.Sprintf("%d organizations of kept members left, want %d", n, keptOrgs))
	}
	if n := w.db.Int(t, `SELECT count(*) FROM lethe.notices n WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id::text = n.subject_key)`); n > 0 {
		problems = append(problems, fmt.Sprintf("%d notice(s) of erased subjects left", n))
	}
	if final {
		if n := w.db.Int(t, `SELECT count(*) FROM activity_log WHERE created_at < now() - interval '91 days'`); n > 0 {
			problems = append(problems, fmt.Sprintf("%d activity rows older than the retention rule left", n))
		}
		if n := w.db.Int(t, `SELECT count(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = o.id)`); n > 0 {
			problems = append(problems, fmt.Sprintf("%d organizations without members left", n))
		}
	}
	assert.Empty(t, problems, "%s: invariants broken (seed %d)", stage, seed)
}
