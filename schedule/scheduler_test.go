package schedule_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/schedule"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// batchJob is a small real job in the shape of lethe's: it runs batches of
// batchTime each (or, with a gate, each until the gate is open), stops
// starting batches once its stop context is done, and records what it did
// in a shared tally.
type batchJob struct {
	name      string
	batches   int
	batchTime time.Duration
	gate      <-chan struct{}
	stop      context.Context
	tally     *tally
}

func (j *batchJob) Name() string { return j.name }

func (j *batchJob) Run(ctx context.Context, s *jobs.Session) error {
	r := s.Report
	j.tally.start()
	defer j.tally.end()
	for i := 0; i < j.batches; i++ {
		if j.stop.Err() != nil {
			j.tally.stopped()
			r.Set("subjects_left", int64(j.batches-i))
			return nil
		}
		j.tally.inBatch()
		var timer <-chan time.Time
		if j.gate == nil {
			timer = time.After(j.batchTime)
		}
		select {
		case <-j.gate: // nil without a gate: never
		case <-timer: // nil with a gate: never
		case <-ctx.Done():
			return ctx.Err()
		}
		r.AddRows("public.users", "delete", 1)
		r.Add("subjects_done", 1)
	}
	return nil
}

// tally counts runs and how many were in flight at once.
type tally struct {
	mu                        sync.Mutex
	started, finished, inStop int
	running, maxRunning       int
	firstStarted              chan struct{}
	once                      sync.Once
	// firstInBatch closes when a run is past its stop check, in a batch:
	// a stop from then on lets that batch finish.
	firstInBatch chan struct{}
	onceInBatch  sync.Once
}

func newTally() *tally {
	return &tally{firstStarted: make(chan struct{}), firstInBatch: make(chan struct{})}
}

func (t *tally) inBatch() { t.onceInBatch.Do(func() { close(t.firstInBatch) }) }

func (t *tally) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started++
	t.running++
	t.maxRunning = max(t.maxRunning, t.running)
	t.once.Do(func() { close(t.firstStarted) })
}

func (t *tally) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running--
	t.finished++
}

func (t *tally) stopped() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inStop++
}

func (t *tally) get() (started, finished, inStop, maxRunning int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.started, t.finished, t.inStop, t.maxRunning
}

// testBundle is one scheduler under test.
type testBundle struct {
	sched  *schedule.Scheduler
	url    string
	tally  *tally
	logs   *jobtest.Logs
	stop   context.CancelFunc
	abort  context.CancelFunc
	runErr chan error
	done   chan struct{}
	// gate holds every batch until openGate, when setup's batchTime is 0.
	gate chan struct{}
}

// openGate lets the held batches go, and every later one.
func (tb *testBundle) openGate() { close(tb.gate) }

// setup starts a scheduler with the job "batches" on spec, every run doing
// batches batches of batchTime; a batchTime of 0 holds each batch until
// openGate instead: a run as slow as the test wants.
func setup(t *testing.T, spec string, batches int, batchTime time.Duration) *testBundle {
	t.Helper()
	tb := &testBundle{tally: newTally(), runErr: make(chan error, 1), done: make(chan struct{})}
	var gate chan struct{}
	if batchTime == 0 {
		gate = make(chan struct{})
		tb.gate = gate
	}
	logger, logs := jobtest.CaptureLogger(t)
	tb.logs = logs
	s, err := schedule.New(schedule.Config{
		Jobs:    []schedule.Entry{{Name: "batches", Spec: spec}},
		Seconds: true,
		Listen:  "127.0.0.1:0",
		NewJob: func(name string, stop context.Context) (jobs.Job, error) {
			return &batchJob{name: name, batches: batches, batchTime: batchTime, gate: gate, stop: stop, tally: tb.tally}, nil
		},
		Runner: &jobs.Runner{Logger: logger},
		Logger: logger,
	})
	require.NoError(t, err)
	tb.sched, tb.url = s, "http://"+s.Addr().String()
	ctx, abort := context.WithCancel(context.Background())
	stop, cancelStop := context.WithCancel(context.Background())
	tb.stop, tb.abort = cancelStop, abort
	go func() {
		defer close(tb.done)
		tb.runErr <- s.Run(ctx, stop)
	}()
	t.Cleanup(func() {
		// Run logs to t: it must return before the test ends.
		cancelStop()
		abort()
		<-tb.done
	})
	return tb
}

// waitRun waits until Run returns, for at most d.
func (tb *testBundle) waitRun(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-tb.runErr:
		return err
	case <-time.After(d):
		t.Fatalf("Run did not return within %s", d)
		return nil
	}
}

// eventually polls cond every 50 ms for at most d: d is a generous bound on
// a wait for the scheduler's clock, never an assertion on speed.
func eventually(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunsRepeatedlyAndServesMetrics(t *testing.T) {
	t.Parallel()
	tb := setup(t, "*/1 * * * * *", 2, 10*time.Millisecond)

	resp, err := http.Get(tb.url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	eventually(t, time.Minute, func() bool { _, finished, _, _ := tb.tally.get(); return finished >= 2 }, "two runs")
	mfs := scrape(t, tb.url)
	job := map[string]string{"lethe_job": "batches"}
	require.Equal(t, 0.0, value(t, mfs, "lethe_job_exit_code", job))
	require.NotZero(t, value(t, mfs, "lethe_job_last_success_timestamp_seconds", job))
	require.NotZero(t, value(t, mfs, "lethe_job_last_completion_timestamp_seconds", job))
	require.Equal(t, 2.0, value(t, mfs, "lethe_job_rows", map[string]string{"lethe_job": "batches", "table": "public.users", "action": "delete"}))
	require.Equal(t, 2.0, value(t, mfs, "lethe_job_subjects", map[string]string{"lethe_job": "batches", "state": "done"}))

	tb.stop()
	require.NoError(t, tb.waitRun(t, time.Minute))
	require.Contains(t, tb.logs.String(), `msg="run finished"`)
}

func TestSlowJobNeverOverlapsAndStopLetsItFinish(t *testing.T) {
	t.Parallel()
	// The first run is held in its first batch until the test lets it go,
	// however many times the schedule fires (every second) meanwhile.
	tb := setup(t, "*/1 * * * * *", 30, 0)

	eventually(t, time.Minute, func() bool { return strings.Count(tb.logs.String(), "run skipped") >= 2 }, "two skipped runs")
	started, _, _, maxRunning := tb.tally.get()
	require.Equal(t, 1, started)
	require.Equal(t, 1, maxRunning, "a job must never run twice at once")
	require.Contains(t, tb.logs.String(), `level=WARN msg="run skipped: the previous run is still going" job=batches`)
	mfs := scrape(t, tb.url)
	require.GreaterOrEqual(t, value(t, mfs, "lethe_schedule_skipped_runs_total", map[string]string{"lethe_job": "batches"}), 2.0)

	// The first SIGTERM: the run in flight finishes its batch and returns.
	tb.stop()
	tb.openGate()
	require.NoError(t, tb.waitRun(t, time.Minute))
	started, finished, inStop, maxRunning := tb.tally.get()
	require.Equal(t, 1, started, "no run starts after stop")
	require.Equal(t, 1, finished, "Run waits for the running job")
	require.Equal(t, 1, inStop, "the job saw its stop context")
	require.Equal(t, 1, maxRunning)

	// Its clean, partial run was recorded.
	require.Contains(t, tb.logs.String(), `msg="run finished"`)
}

func TestAbortCancelsTheRunningJob(t *testing.T) {
	t.Parallel()
	tb := setup(t, "*/1 * * * * *", 1, 0) // its batch never ends by itself
	// In its batch, not only started: a stop before the batch began would
	// end the run cleanly, with nothing for the abort to cancel.
	select {
	case <-tb.tally.firstInBatch:
	case <-time.After(time.Minute):
		t.Fatal("the job did not start its batch")
	}
	tb.stop()
	tb.abort()
	err := tb.waitRun(t, time.Minute)
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, tb.logs.String(), `level=ERROR msg="run failed"`)
}

func TestNewRejectsBadSchedules(t *testing.T) {
	t.Parallel()
	newJob := func(name string, stop context.Context) (jobs.Job, error) {
		if name != "purge" {
			return nil, fmt.Errorf("job %q is not available in this build yet", name)
		}
		return &batchJob{name: name, stop: stop, tally: newTally()}, nil
	}
	for _, tc := range []struct {
		entries []schedule.Entry
		seconds bool
		want    string
	}{
		{[]schedule.Entry{{"purge", "0 3 * *"}}, false, `schedule of job purge: invalid spec "0 3 * *"`},
		{[]schedule.Entry{{"purge", "*/1 * * * * *"}}, false, `schedule of job purge: invalid spec "*/1 * * * * *"`},
		{[]schedule.Entry{{"purge", "0 3 * * *"}}, true, `schedule of job purge: invalid spec "0 3 * * *"`},
		{[]schedule.Entry{{"purge", "61 * * * *"}}, false, `invalid spec "61 * * * *"`},
		{[]schedule.Entry{{"purge", "@daily"}, {"retention", "@hourly"}}, false, `schedule of job retention: job "retention" is not available`},
		{[]schedule.Entry{{"purge", "@daily"}, {"purge", "@hourly"}}, false, "job purge is scheduled twice"},
		{nil, false, "no job scheduled"},
	} {
		_, err := schedule.New(schedule.Config{Jobs: tc.entries, Seconds: tc.seconds, NewJob: newJob})
		require.ErrorContains(t, err, tc.want, "%v", tc.entries)
		require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err), "%v", tc.entries)
	}
	// Good ones pass, and nothing listens when Listen is empty.
	s, err := schedule.New(schedule.Config{Jobs: []schedule.Entry{{"purge", "CRON_TZ=Europe/Paris 0 3 * * *"}}, NewJob: newJob})
	require.NoError(t, err)
	require.Nil(t, s.Addr())
	_, err = schedule.New(schedule.Config{Jobs: []schedule.Entry{{"purge", "*/1 * * * * *"}}, Seconds: true, NewJob: newJob})
	require.NoError(t, err)
}

// scrape reads url's /metrics and parses it.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// value returns the one series of name whose labels include want.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	require.Contains(t, mfs, name)
	var found []float64
	for _, m := range mfs[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && have[k] == v
		}
		if !ok {
			continue
		}
		if m.Gauge != nil {
			found = append(found, m.GetGauge().GetValue())
		} else {
			found = append(found, m.GetCounter().GetValue())
		}
	}
	require.Len(t, found, 1, "series %s%v", name, want)
	return found[0]
}
