package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

const ms = time.Millisecond

// probedSession is a session with the latency probe on, whose probes the
// test feeds, and whose health says app sessions of the application work.
func probedSession(t *testing.T, db *pgtest.DB, g jobs.Governor, app *int) (*jobs.Session, *fakeClock, func(time.Duration, error)) {
	t.Helper()
	g.LatencyProbe = true
	s, clock := newSession(t, db, jobs.Limits{Governor: g})
	jobs.SetHealthEdit(s, func(h *jobs.Health) { h.AppSessions = *app })
	feed := jobs.FeedLatency(s)
	// The baseline: three probes of 1ms before the first batch.
	for range 3 {
		feed(ms, nil)
	}
	return s, clock, feed
}

func TestLatencyProbeHoldsThenPacesWhileTheApplicationFeelsIt(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	app := 1
	s, clock, feed := probedSession(t, db, jobs.Governor{MaxShare: 0.5}, &app)
	thr, ok := jobs.LatencyThreshold(s)
	require.True(t, ok)
	require.Equal(t, 5*ms, thr, "the floor: 2 x the 1ms baseline is below it")

	// A run starts paced at a quarter of the database's time (its cap
	// here is 0.5; by default it starts at the default cap, 0.1): the
	// first batch may go at once.
	require.InDelta(t, 0.25, jobs.LatencyShare(s), 1e-9)
	require.True(t, s.Continue(ctx))
	require.Empty(t, clock.slept, "no probe yet while lethe works")
	// A batch of 100ms, during which the probe took 10ms twice: slow (one
	// slow probe of three is not).
	clock.now = clock.now.Add(100 * ms)
	s.ObserveBatch(100 * ms)
	feed(10*ms, nil)
	feed(10*ms, nil)
	clock.onSleep = func() {
		if len(clock.slept) == 1 {
			feed(ms, nil) // held, lethe idle: fast again
		}
	}
	require.True(t, s.Continue(ctx))
	// Held one probe interval, then paced: the share is halved to 0.125,
	// and the 100ms batch less the 50ms of credit (25ms to start, 25ms
	// earned in 200ms) costs 400ms of the run.
	require.Equal(t, []time.Duration{100 * ms, 400 * ms}, clock.slept)
	require.InDelta(t, 0.125, jobs.LatencyShare(s), 1e-9)
	require.EqualValues(t, 1, s.Report.Counter(jobs.ProbeSlow))
	// Batches aim at an eighth of their target: short bursts.
	require.Equal(t, 125*ms, s.PacedTarget(time.Second))
	require.Equal(t, 10*ms, s.PacedTarget(12*ms), "at least 10ms")
	// The run's sizer (default target 500ms, paced to 62.5ms) shrinks a
	// batch that took three unpaced targets.
	s.Sizer().Observe(s.Sizer().Size(), s.Sizer().Size(), 1500*ms)
	require.Equal(t, 20, s.Sizer().Size(), "500 subjects in 1.5s: 20 take 62.5ms")

	// The next batch of 100ms costs 800ms.
	s.ObserveBatch(100 * ms)
	require.True(t, s.Continue(ctx))
	require.Equal(t, []time.Duration{100 * ms, 400 * ms, 800 * ms}, clock.slept)
	require.EqualValues(t, 1300, s.Report.Counter(jobs.ThrottledCounter(jobs.ReasonLatency)))
	require.EqualValues(t, 1300, s.Report.Counter(jobs.ThrottledMS))

	// Fast probes while lethe works raise the share by 5% each.
	feed(ms, nil)
	require.True(t, s.Continue(ctx))
	require.InDelta(t, 0.13125, jobs.LatencyShare(s), 1e-9)
	// Another slow one halves it, after a hold.
	clock.slept = nil
	feed(6*ms, nil)
	feed(6*ms, nil)
	clock.onSleep = func() { feed(ms, nil) }
	require.True(t, s.Continue(ctx))
	require.Equal(t, 100*ms, clock.slept[0])
	require.InDelta(t, 0.065625, jobs.LatencyShare(s), 1e-9)
	// Once the application has no session at work, the pacing ends.
	app = 0
	feed(ms, nil)
	require.True(t, s.Continue(ctx))
	require.Zero(t, jobs.LatencyShare(s))
}

func TestLatencyProbeIgnoredWithoutApplicationSessions(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	app := 0
	s, clock, feed := probedSession(t, db, jobs.Governor{}, &app)
	require.True(t, s.Continue(ctx))
	s.ObserveBatch(100 * ms)
	feed(50*ms, nil)
	require.True(t, s.Continue(ctx))
	require.Empty(t, clock.slept, "nobody to feel lethe's latency")
	require.Zero(t, jobs.LatencyShare(s))

	// With the application at work, one slow probe of three is not
	// enough: a stall of the machine's own.
	app = 1
	one, _, feedOne := probedSession(t, db, jobs.Governor{MaxShare: 0.5}, &app)
	require.True(t, one.Continue(ctx))
	one.ObserveBatch(100 * ms)
	feedOne(50*ms, nil)
	feedOne(ms, nil)
	feedOne(ms, nil)
	require.True(t, one.Continue(ctx))
	require.Zero(t, one.Report.Counter(jobs.ProbeSlow))
	require.Greater(t, jobs.LatencyShare(one), 0.25, "two fast probes raised the share")
	// However fast the probes, while the application works lethe takes
	// at most its cap of the database's time: a tenth by default.
	for range 30 {
		feedOne(ms, nil)
		require.True(t, one.Continue(ctx))
	}
	require.Equal(t, 0.5, jobs.LatencyShare(one))
	def, _, feedDef := probedSession(t, db, jobs.Governor{}, &app)
	for range 30 {
		feedDef(ms, nil)
		require.True(t, def.Continue(ctx))
	}
	require.Equal(t, 0.1, jobs.LatencyShare(def))

	// A plain dry run takes no probe (it writes nothing, the probe would).
	dry, _ := newSession(t, db, jobs.Limits{DryRun: true, Governor: jobs.Governor{LatencyProbe: true}})
	require.True(t, dry.Continue(ctx))
	require.Zero(t, jobs.LatencyShare(dry))

	// Off by default: the zero Governor takes no probe.
	plain, clock := newSession(t, db, jobs.Limits{})
	plain.ObserveBatch(100 * ms)
	require.True(t, plain.Continue(ctx))
	require.Empty(t, clock.slept)
}

// feedingJob sets up its session's probes, then runs batches of 100ms
// until Continue returns false; after each, probe feeds what the prober
// saw during it.
type feedingJob struct {
	setup func(s *jobs.Session) (probe func())
	n     int
}

func (j *feedingJob) Name() string { return "probed" }

func (j *feedingJob) Run(ctx context.Context, s *jobs.Session) error {
	probe := j.setup(s)
	for s.Continue(ctx) {
		j.n++
		s.ObserveBatch(100 * ms)
		probe()
	}
	return nil
}

func TestLatencyProbeThatTimesOutFailsTheRunAtTheBound(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	stalled := fmt.Errorf("latency probe: %w", context.DeadlineExceeded)
	job := &feedingJob{setup: func(s *jobs.Session) func() {
		jobs.SetHealthEdit(s, func(h *jobs.Health) { h.AppSessions = 1 })
		feed := jobs.FeedLatency(s)
		feed(ms, nil)
		// From the first batch on the server stalls: every probe times
		// out, with lethe at work and idle alike.
		clock.onSleep = func() { feed(time.Second, stalled) }
		return func() { feed(time.Second, stalled); feed(time.Second, stalled) }
	}}
	rn := &jobs.Runner{Pool: db.Pool}
	r, err := rn.Execute(context.Background(), job, jobs.Limits{Clock: clock,
		Governor: jobs.Governor{LatencyProbe: true, MaxThrottle: time.Second}})
	var te *jobs.ThrottledError
	require.True(t, errors.As(err, &te), "got %v", err)
	require.Equal(t, jobs.ReasonLatency, te.Reason)
	require.Equal(t, time.Second, te.Waited)
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err))
	require.Equal(t, 1, job.n, "no batch after the first")
	require.Len(t, clock.slept, 11, "the hold's first pause, for lethe's own batches to end, is outside the bound")
	require.EqualValues(t, 1, r.Counter(jobs.ThrottledOut))
	require.Positive(t, r.Counter(jobs.ProbeErrors))
}

// TestLatencyProbeBaselineFollowsTheServer: when the server is slower for
// everyone, lethe idle included, the baseline rises with it and the hold
// ends: the probe measures what lethe adds.
func TestLatencyProbeBaselineFollowsTheServer(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	app := 1
	s, clock, feed := probedSession(t, db, jobs.Governor{MaxShare: 0.5}, &app)
	require.True(t, s.Continue(ctx))
	s.ObserveBatch(100 * ms)
	feed(30*ms, nil)
	feed(30*ms, nil)
	clock.onSleep = func() { feed(30*ms, nil) }
	require.True(t, s.Continue(ctx))
	// 3 idle probes of 1ms, then 30ms ones: the lower quartile of the
	// last 9 is 30ms after 7 of them.
	require.Len(t, clock.slept, 7)
	thr, _ := jobs.LatencyThreshold(s)
	require.Equal(t, 60*ms, thr)
}

func TestLatencyProbeErrorsTurnItOffAndTheRunGoesOn(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	app := 1
	s, clock, feed := probedSession(t, db, jobs.Governor{}, &app)
	require.True(t, s.Continue(ctx))
	broken := errors.New("latency probe: connection reset")
	feed(0, broken)
	feed(0, broken)
	require.True(t, s.Continue(ctx))
	feed(0, broken)
	s.ObserveBatch(100 * ms)
	feed(50*ms, nil) // after the probe is off: not judged
	require.True(t, s.Continue(ctx))
	require.Empty(t, clock.slept)
	require.EqualValues(t, 3, s.Report.Counter(jobs.ProbeErrors))

	// One the role may not run turns it off at once.
	s2, clock2, feed2 := probedSession(t, db, jobs.Governor{}, &app)
	require.True(t, s2.Continue(ctx))
	feed2(0, fmt.Errorf("latency probe: %w", &pgconn.PgError{Code: "42501"}))
	feed2(50*ms, nil)
	require.True(t, s2.Continue(ctx))
	require.Empty(t, clock2.slept)

	// One that times out is slow.
	s3, clock3, feed3 := probedSession(t, db, jobs.Governor{}, &app)
	require.True(t, s3.Continue(ctx))
	feed3(time.Second, fmt.Errorf("latency probe: %w", context.DeadlineExceeded))
	feed3(time.Second, fmt.Errorf("latency probe: %w", context.DeadlineExceeded))
	clock3.onSleep = func() { feed3(ms, nil) }
	require.True(t, s3.Continue(ctx))
	require.Equal(t, []time.Duration{100 * ms}, clock3.slept)
}

// TestLatencyProbeRunsAndWaitsForTheWALFlush runs the real probe: it
// writes a WAL record, and its COMMIT returns only once the WAL is flushed
// past that record (a transaction that only takes an xid would not wait).
// Run by a role with no privilege. The prober then starts with the run's
// first Continue and takes the baseline.
func TestLatencyProbeRunsAndWaitsForTheWALFlush(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	// The test cluster runs with synchronous_commit off; the probe's
	// sessions take the database's setting, as the application's do.
	var name string
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT current_database()").Scan(&name))
	db.Exec(t, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" SET synchronous_commit = on")
	s, _ := newSession(t, db, jobs.Limits{Governor: jobs.Governor{LatencyProbe: true}})
	took, err := jobs.ProbeOnce(ctx, s)
	require.NoError(t, err)
	require.Positive(t, took)
	lsn := jobs.ProbeLSN(s)
	require.NotEmpty(t, lsn)
	var flushed bool
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn", lsn).Scan(&flushed))
	require.True(t, flushed, "the probe's COMMIT waited for the flush of its record")

	role := fmt.Sprintf("probe_%d", rand.Uint32())
	db.Exec(t, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" NOLOGIN")
	t.Cleanup(func() {
		_, _ = db.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	})
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "SET ROLE "+pgx.Identifier{role}.Sanitize())
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "SELECT pg_logical_emit_message(true, 'lethe.probe', '')")
	require.NoError(t, err, "a role without privileges may run the probe")
	_, err = conn.Exec(ctx, "RESET ROLE")
	require.NoError(t, err)

	s2, _ := newSession(t, db, jobs.Limits{Governor: jobs.Governor{LatencyProbe: true}})
	require.True(t, s2.Continue(ctx))
	jobs.StopProbes(s2)
	_, ok := jobs.LatencyThreshold(s2)
	require.True(t, ok, "a baseline from the probes before the first batch")
	require.Zero(t, s2.Report.Counter(jobs.ProbeErrors))
}

func TestHealthCountsTheApplicationsSessions(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	app, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { app.Close(context.Background()) })
	tx, err := app.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, "SELECT 1")
	require.NoError(t, err)
	s, _ := newSession(t, db, jobs.Limits{})
	var seen []jobs.Health
	jobs.SetHealthProbe(s, func(h jobs.Health) { seen = append(seen, h) })
	require.True(t, s.Continue(ctx))
	require.GreaterOrEqual(t, seen[0].AppSessions, 1, "a transaction of the application is open")
}

// LETHE_MAX_DB_SHARE and LETHE_DB_SHARE_RAMP: the cap of lethe's share
// while the application works and the step of each fast probe are
// settings; a run starts at 0.25, or the cap when it is lower.
func TestLatencyPacingCapAndRampAreSettings(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	app := 1
	s, clock, feed := probedSession(t, db, jobs.Governor{MaxShare: 0.2, ShareRamp: 0.1}, &app)
	require.InDelta(t, 0.2, jobs.LatencyShare(s), 1e-9, "starts at the cap, below 0.25")
	require.True(t, s.Continue(ctx))
	s.ObserveBatch(20 * ms)
	feed(10*ms, nil)
	feed(10*ms, nil)
	clock.onSleep = func() {
		if len(clock.slept) == 1 {
			feed(ms, nil)
		}
	}
	require.True(t, s.Continue(ctx))
	require.InDelta(t, 0.1, jobs.LatencyShare(s), 1e-9, "a slow verdict halves it")
	feed(ms, nil)
	require.True(t, s.Continue(ctx))
	require.InDelta(t, 0.11, jobs.LatencyShare(s), 1e-9, "a fast probe raises it by 10%")
	for range 20 {
		feed(ms, nil)
		require.True(t, s.Continue(ctx))
	}
	require.InDelta(t, 0.2, jobs.LatencyShare(s), 1e-9, "never above the cap while the application works")
}
