package purge_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/purge"
	"github.com/stretchr/testify/require"
)

// TestPacedPurgeRunsOneBatchAtATimeAndAimsAtTheCap runs a purge paced by
// the latency probe (the probe's interval of an hour keeps the run at the
// share it starts with, the default cap) with two workers. The
// first batch waits until the other worker has asked for its turn: the
// other worker's batch must not start before the first ended. Each batch
// takes 150ms by the run's clock: within two paced targets (125ms), but
// far over the default PacedBatchTime (10ms), which shrinks the next batch
// to one subject.
func TestPacedPurgeRunsOneBatchAtATimeAndAimsAtTheCap(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{}
	j, o := pacedJob(t, clock, func(o *options) { o.Workers = 2 })
	var turns, inFlight, most atomic.Int32
	other := make(chan struct{})
	var first sync.Once
	purge.SetHooks(j, func() {
		first.Do(func() { <-other })
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
	}, nil, func() {
		inFlight.Add(-1)
		clock.offset.Add(int64(150 * time.Millisecond))
	})
	// After SetHooks, which sets all the others.
	purge.SetTurning(j, func() {
		if turns.Add(1) == 2 {
			close(other)
		}
	})
	r, code := runJob(t, o, j)
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 12, r.Counter(jobs.SubjectsDone))
	require.EqualValues(t, 1, most.Load(), "one batch in flight at a time while paced")
	require.EqualValues(t, 1, r.Gauges[string(jobs.BatchSize)], "150ms batches, aiming at 10ms")
	require.EqualValues(t, 5, r.Counter(jobs.Batches), "8, then 1, 1, 1, 1")
}

// TestPacedBatchCapScalesWithTheTargetBatchTime: a run told to aim at 1h
// transactions (LETHE_TARGET_BATCH_TIME) keeps its batches of 8 taking
// 150ms while paced: its cap is 10ms x 7200.
func TestPacedBatchCapScalesWithTheTargetBatchTime(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{}
	j, o := pacedJob(t, clock, func(o *options) { o.Workers, o.TargetBatchTime = 1, time.Hour })
	purge.SetHooks(j, nil, nil, func() { clock.offset.Add(int64(150 * time.Millisecond)) })
	r, code := runJob(t, o, j)
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 12, r.Counter(jobs.SubjectsDone))
	require.EqualValues(t, 8, r.Gauges[string(jobs.BatchSize)])
	require.EqualValues(t, 2, r.Counter(jobs.Batches), "8, then the last 4")
}

// pacedJob is a purge of 12 pending subjects in batches of 8 on clock,
// paced by the latency probe (whose interval of an hour keeps the run at
// the share it starts with, the default cap), with mod applied.
func pacedJob(t *testing.T, clock *fakeClock, mod func(*options)) (*purge.Job, options) {
	t.Helper()
	b := setup(t, exampleSchema, examplePolicy)
	for i := range 12 {
		b.addUser(fmt.Sprintf("u%d", i), "60 days", false, "")
	}
	o := b.config(func(o *options) {
		o.BatchSize, o.MaxBatchSize, o.AllowLarge, o.Clock = 8, 8, true, clock
		o.Governor = jobs.Governor{LatencyProbe: true, ProbeInterval: time.Hour}
	}, mod)
	j, err := purge.New(o.Config)
	require.NoError(t, err)
	return j, o
}
