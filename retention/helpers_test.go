package retention_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

// subjectYAML is the minimal subject: section every policy file needs.
const subjectYAML = `subject:
  table: users
  key: id
  requested_at: deletion_requested_at
  grace: 30d
`

// asOf is the fixed "now" of tests that put rows exactly at the cutoff.
var asOf = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

type testBundle struct {
	db  *pgtest.DB
	cfg retention.Config
}

// setup makes a database from schema and a job config for the retention:
// section given (YAML, without the retention: key line).
func setup(t *testing.T, schema, rules string) *testBundle {
	t.Helper()
	db := pgtest.NewDB(t, schema)
	return &testBundle{db: db, cfg: config(t, db.Pool, rules)}
}

func config(t *testing.T, pool *pgxpool.Pool, rules string) retention.Config {
	t.Helper()
	pol, err := policy.Parse([]byte(subjectYAML+"retention:\n"+rules), "test.yaml")
	require.NoError(t, err)
	return retention.Config{
		Pool: pool, Policy: pol, Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limits: jobs.Limits{StatementTimeout: 5 * time.Second, LockTimeout: time.Second},
	}
}

func runJob(t *testing.T, cfg retention.Config) (*jobs.Report, error) {
	t.Helper()
	j, err := retention.New(cfg)
	require.NoError(t, err)
	r := jobs.NewReport(j.Name(), cfg.DryRun)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = j.Run(ctx, r)
	t.Logf("report: rows %v counters %v", r.Rows, r.Counters)
	return r, err
}

// fakeClock is a clock that moves only when the test moves it: the time
// budget then runs out at the point the test chooses, however fast or slow
// the machine is.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(asOf.UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// stopAfter sets cfg's hooks so that the time budget runs out during the
// n-th batch (or block range): exactly n are done, then the run stops.
func stopAfter(cfg *retention.Config, n int) {
	clock := newFakeClock()
	batches := 0
	retention.SetTestHooks(cfg, clock.now, func() {
		if batches++; batches == n {
			clock.advance(cfg.TimeBudget + time.Hour)
		}
	}, nil)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// waitFor polls cond until it holds, and fails after a minute: it waits
// for another session to reach a state, never for time to pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for a state that should come")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
