package metrics_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/metrics"
	"github.com/stretchr/testify/require"
)

// purgeReport is a finished purge run's report, as the purge fills it.
func purgeReport(started time.Time, d time.Duration) *jobs.Report {
	r := jobs.NewReport("purge", false)
	r.Started, r.Duration = started, d
	r.AddRows("public.users", "delete", 7)
	r.AddRows("public.orders", "anonymize", 12)
	r.Add("subjects_done", 7)
	r.Set("subjects_left", 3)
	r.SetGauge("pending_subjects", 3)
	r.SetGauge("oldest_request_age_seconds", 86400)
	r.SetGauge("oldest_overdue_seconds", 3600)
	r.SetGauge("grace_seconds", 14*86400)
	return r
}

func TestPushHookSuccessThenFailure(t *testing.T) {
	t.Parallel()
	url := startPushgateway(t)
	logger := jobtest.Logger(t)
	hook := metrics.PushHook(url, logger)
	ctx := context.Background()

	t1 := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	hook(ctx, purgeReport(t1, 2500*time.Millisecond), nil)

	mfs := scrape(t, url)
	purge := labels("job", "lethe", "lethe_job", "purge")
	done := float64(t1.Add(2500*time.Millisecond).Unix()) + 0.5
	require.Equal(t, done, value(t, mfs, metrics.NameLastSuccess, purge))
	require.Equal(t, done, value(t, mfs, metrics.NameLastCompletion, purge))
	require.Equal(t, 2.5, value(t, mfs, metrics.NameDuration, purge))
	require.Equal(t, 0.0, value(t, mfs, metrics.NameExitCode, purge))
	require.Equal(t, 7.0, value(t, mfs, metrics.NameRows, labels("job", "lethe", "lethe_job", "purge", "table", "public.users", "action", "delete")))
	require.Equal(t, 12.0, value(t, mfs, metrics.NameRows, labels("job", "lethe", "lethe_job", "purge", "table", "public.orders", "action", "anonymize")))
	require.Equal(t, 7.0, value(t, mfs, metrics.NameSubjects, labels("job", "lethe", "lethe_job", "purge", "state", "done")))
	require.Equal(t, 3.0, value(t, mfs, metrics.NameSubjects, labels("job", "lethe", "lethe_job", "purge", "state", "left")))
	require.Equal(t, 3.0, value(t, mfs, metrics.NamePendingSubjects, purge))
	require.Equal(t, 86400.0, value(t, mfs, metrics.NameOldestRequestAge, purge))
	require.Equal(t, 3600.0, value(t, mfs, metrics.NameOldestOverdue, purge))
	require.Equal(t, 14*86400.0, value(t, mfs, metrics.NameGrace, purge))
	// The Pushgateway's own push time, which the deadline alert reads.
	require.NotZero(t, value(t, mfs, "push_time_seconds", purge))

	// A later run fails (a policy problem: exit 2) before touching rows.
	t2 := t1.Add(time.Hour)
	failed := jobs.NewReport("purge", false)
	failed.Started, failed.Duration = t2, time.Second
	failed.SetGauge("pending_subjects", 5)
	hook(ctx, failed, &jobs.ConfigError{Err: errors.New("policy: table public.users has no column id")})

	mfs = scrape(t, url)
	require.Equal(t, done, value(t, mfs, metrics.NameLastSuccess, purge), "a failure must keep the last success")
	require.Equal(t, float64(t2.Add(time.Second).Unix()), value(t, mfs, metrics.NameLastCompletion, purge))
	require.Equal(t, 2.0, value(t, mfs, metrics.NameExitCode, purge))
	require.Equal(t, 1.0, value(t, mfs, metrics.NameDuration, purge))
	require.Equal(t, 5.0, value(t, mfs, metrics.NamePendingSubjects, purge))
	require.Equal(t, 7.0, value(t, mfs, metrics.NameRows, labels("lethe_job", "purge", "table", "public.users", "action", "delete")),
		"a run without rows keeps the rows of the last run that had some")

	// Another job has its own group and leaves purge's alone.
	ret := jobs.NewReport("retention", false)
	ret.Started, ret.Duration = t2, time.Second
	ret.AddRows("public.events", "delete", 1000)
	hook(ctx, ret, errors.New("batch: connection reset"))
	mfs = scrape(t, url)
	retention := labels("job", "lethe", "lethe_job", "retention")
	require.Equal(t, 1.0, value(t, mfs, metrics.NameExitCode, retention))
	require.Equal(t, 1000.0, value(t, mfs, metrics.NameRows, labels("lethe_job", "retention", "table", "public.events", "action", "delete")))
	_, ok := series(t, mfs, metrics.NameLastSuccess, retention)
	require.False(t, ok, "retention never succeeded")
	_, ok = series(t, mfs, metrics.NameSubjects, retention)
	require.False(t, ok, "retention counts no subjects")
	require.Equal(t, 2.0, value(t, mfs, metrics.NameExitCode, purge))
}

func TestPushHookDryRunPushesNothing(t *testing.T) {
	t.Parallel()
	url := startPushgateway(t)
	logger, logs := jobtest.CaptureLogger(t)
	hook := metrics.PushHook(url, logger)

	real := purgeReport(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC), time.Second)
	hook(context.Background(), real, nil)
	dry := jobs.NewReport("purge", true)
	dry.AddRows("public.users", "delete", 99)
	dry.SetGauge("pending_subjects", 99)
	hook(context.Background(), dry, nil)

	mfs := scrape(t, url)
	purge := labels("lethe_job", "purge")
	require.Equal(t, float64(real.Started.Add(time.Second).Unix()), value(t, mfs, metrics.NameLastSuccess, purge))
	require.Equal(t, 3.0, value(t, mfs, metrics.NamePendingSubjects, purge))
	require.Equal(t, 7.0, value(t, mfs, metrics.NameRows, labels("lethe_job", "purge", "table", "public.users", "action", "delete")))
	require.Contains(t, logs.String(), "dry run: metrics not pushed")
}

// countJob is a small real job: it counts rows and subjects, or fails.
type countJob struct{ err error }

func (j countJob) Name() string { return "purge" }

func (j countJob) Run(_ context.Context, s *jobs.Session) error {
	r := s.Report
	r.AddRows("public.users", "delete", 2)
	r.Add("subjects_done", 2)
	return j.err
}

func TestPushHookDeadAddressIsLoggedOnly(t *testing.T) {
	t.Parallel()
	// A port that was just closed: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://lethe:s3cret-pw@" + l.Addr().String()
	require.NoError(t, l.Close())

	logger, logs := jobtest.CaptureLogger(t)
	rn := &jobs.Runner{Logger: logger, Hooks: []jobs.Hook{metrics.PushHook(dead, logger, metrics.WithTimeout(2*time.Second))}}

	r, code := rn.Run(context.Background(), countJob{}, jobs.Limits{})
	require.Equal(t, jobs.ExitOK, code, "a failed push does not fail the run")
	require.Equal(t, map[string]int64{"public.users delete": 2}, r.Rows)
	require.Equal(t, map[string]int64{"subjects_done": 2}, r.Counters)
	require.Contains(t, logs.String(), "level=WARN msg=\"metrics push failed; the run's outcome is unchanged\"")
	require.NotContains(t, logs.String(), "s3cret-pw", "the URL's password must never be logged")

	_, code = rn.Run(context.Background(), countJob{err: errors.New("boom")}, jobs.Limits{})
	require.Equal(t, jobs.ExitFailed, code)
	require.Equal(t, 2, strings.Count(logs.String(), "metrics push failed"))
}

// A Pushgateway that accepts the connection and never answers: only the
// push's own timeout ends it, and the run's outcome is unchanged.
func TestPushHookSilentServerIsBounded(t *testing.T) {
	t.Parallel()
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = hole.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	logger, logs := jobtest.CaptureLogger(t)
	rn := &jobs.Runner{Logger: logger, Hooks: []jobs.Hook{metrics.PushHook("http://"+hole.Addr().String(), logger, metrics.WithTimeout(100*time.Millisecond))}}
	done := make(chan int, 1)
	go func() { _, code := rn.Run(context.Background(), countJob{}, jobs.Limits{}); done <- code }()
	select {
	case code := <-done:
		require.Equal(t, jobs.ExitOK, code, "a failed push does not fail the run")
	case <-time.After(time.Minute): // generous: the push times out after 100ms
		t.Fatal("the push must be bounded by its timeout")
	}
	require.Contains(t, logs.String(), "metrics push failed")
}

func TestPushHookPushesAfterCancel(t *testing.T) {
	t.Parallel()
	url := startPushgateway(t)
	logger := jobtest.Logger(t)
	hook := metrics.PushHook(url, logger)
	// A second SIGTERM cancels the run's context; its failure still reaches
	// the Pushgateway.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := jobs.NewReport("orphans", false)
	hook(ctx, r, context.Canceled)
	mfs := scrape(t, url)
	require.Equal(t, 1.0, value(t, mfs, metrics.NameExitCode, labels("job", "lethe", "lethe_job", "orphans")))
}
