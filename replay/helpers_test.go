package replay

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/journal"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

func mustRead(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var (
	exampleSchema = mustRead("../examples/schema.sql")
	examplePolicy = mustRead("../examples/policy.yaml")
)

// bundle is a test's live database, its journal, and its backups.
type bundle struct {
	t       *testing.T
	db      *pgtest.DB
	pol     *policy.Policy
	journal *journal.Journal
}

func setup(t *testing.T) *bundle {
	t.Helper()
	p, err := policy.Parse([]byte(examplePolicy), "test.yaml")
	require.NoError(t, err)
	j, err := journal.Open(context.Background(), "file://"+t.TempDir(), nil)
	require.NoError(t, err)
	return &bundle{t: t, db: pgtest.NewDB(t, exampleSchema), pol: p, journal: j}
}

// addUser adds a user of the example schema with rows in the tables
// that refer to it; requested is an SQL interval ago, or "".
func (b *bundle) addUser(db *pgtest.DB, name, requested string) string {
	id := jobtest.MD5UUID(name)
	var req any
	if requested != "" {
		req = requested
	}
	db.Exec(b.t, `INSERT INTO users (id, email, name, deleted_at) VALUES ($1, $2 || '@example.com', $2, now() - $3::interval)`, id, name, req)
	db.Exec(b.t, `INSERT INTO sessions (user_id, ip) VALUES ($1, '192.0.2.1')`, id)
	db.Exec(b.t, `INSERT INTO notes (created_by, body) VALUES ($1::text, 'note by ' || $2)`, id, name)
	db.Exec(b.t, `INSERT INTO billing.invoices (user_id, customer_email, amount_cents) VALUES ($1, $2 || '@example.com', 100)`, id, name)
	return id
}

// run runs job on db as lethe does, its runs recorded with the
// fingerprint of key.
func (b *bundle) run(db *pgtest.DB, job jobs.Job, key string, limits jobs.Limits) (*jobs.Report, int) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rn := &jobs.Runner{Pool: db.Pool, Logger: jobtest.Logger(b.t), KeyFingerprint: subject.NewHasher(key).Fingerprint()}
	limits.AllowLarge = true
	r, err := rn.Execute(ctx, job, limits)
	b.t.Logf("report: rows %v counters %v err %v", r.Rows, r.Counters, err)
	return r, jobs.ExitCode(err)
}

func (b *bundle) purgeConfig(db *pgtest.DB, key string) purge.Config {
	return purge.Config{Deps: jobs.Deps{Pool: db.Pool, Policy: b.pol, Hasher: subject.NewHasher(key), Logger: jobtest.Logger(b.t)}}
}

// purge runs the purge on db with the journal, hashing with key.
func (b *bundle) purge(db *pgtest.DB, key string) *jobs.Report {
	b.t.Helper()
	pc := b.purgeConfig(db, key)
	pc.Journal = &journal.Outbox{Pool: db.Pool, Journal: b.journal}
	j, err := purge.New(pc)
	require.NoError(b.t, err)
	r, code := b.run(db, j, key, jobs.Limits{})
	require.Equal(b.t, jobs.ExitOK, code)
	return r
}

// replay runs lethe replay on db with the current key and the previous
// ones.
func (b *bundle) replay(db *pgtest.DB, key string, dry bool, previous ...string) (*jobs.Report, int) {
	b.t.Helper()
	cfg := Config{Purge: b.purgeConfig(db, key), Journal: b.journal}
	for _, p := range previous {
		cfg.Previous = append(cfg.Previous, subject.NewHasher(p))
	}
	j, err := New(cfg)
	require.NoError(b.t, err)
	return b.run(db, j, key, jobs.Limits{DryRun: dry, BatchSize: 2})
}

func (b *bundle) app(db *pgtest.DB) map[string][]string { return db.Snapshot(b.t, "public", "billing") }
