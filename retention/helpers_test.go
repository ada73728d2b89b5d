package retention_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/internal/roletest"
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
	db     *pgtest.DB
	cfg    retention.Config
	limits jobs.Limits
}

// setup makes a database from schema and a job config for the retention:
// section given (YAML, without the retention: key line).
func setup(t *testing.T, schema, rules string) *testBundle {
	t.Helper()
	db := pgtest.NewDB(t, schema)
	cfg := config(t, db.Pool, rules)
	// The job runs as a role with exactly the grants lethe grants gives.
	cfg.Pool = roletest.Pool(t, db, cfg.Policy)
	return &testBundle{db: db, cfg: cfg, limits: testLimits()}
}

func config(t *testing.T, pool *pgxpool.Pool, rules string) retention.Config {
	t.Helper()
	pol, err := policy.Parse([]byte(subjectYAML+"retention:\n"+rules), "test.yaml")
	require.NoError(t, err)
	return retention.Config{Deps: jobs.Deps{Pool: pool, Policy: pol, Logger: jobtest.Logger(t)}}
}

// testLimits are the limits of a test run: short timeouts.
func testLimits() jobs.Limits {
	return jobs.Limits{StatementTimeout: 5 * time.Second, LockTimeout: time.Second}
}

func runJob(t *testing.T, cfg retention.Config, limits jobs.Limits) (*jobs.Report, error) {
	t.Helper()
	j, err := retention.New(cfg)
	require.NoError(t, err)
	return jobtest.Run(t, cfg.Pool, j, limits)
}

// fakeClock is a jobs.Clock that moves only when the test moves it: the
// time budget then runs out at the point the test chooses, however fast or
// slow the machine is. Its pauses return at once.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(asOf.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func (c *fakeClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// stopAfter sets a fake clock in limits and a hook in cfg so that the time
// budget runs out during the n-th batch (or block range): exactly n are
// done, then the run stops.
func stopAfter(cfg *retention.Config, limits *jobs.Limits, n int) {
	clock := newFakeClock()
	limits.Clock = clock
	batches := 0
	budget := limits.TimeBudget
	retention.SetTestHooks(cfg, func() {
		if batches++; batches == n {
			clock.advance(budget + time.Hour)
		}
	}, nil)
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
