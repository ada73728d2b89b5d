package jobs_test

import (
	"context"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestPacedBatchesAimAtTheSizersCap: while the run is paced, a sizer with
// a cap aims at the cap when it is below the paced target (a quarter of
// 500ms at the start); unpaced, it aims at the target as before.
func TestPacedBatchesAimAtTheSizersCap(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	app := 1
	s, _, _ := probedSession(t, db, jobs.Governor{MaxShare: 0.5}, &app)
	require.InDelta(t, 0.25, jobs.LatencyShare(s), 1e-9, "paced from the start")
	capped := s.NewSizer(500, 500, 0)
	capped.CapPaced(20 * ms)
	plain := s.NewSizer(500, 500, 0)
	// 500 subjects in 150ms: within two paced targets (125ms), kept; with
	// the cap, 20ms take 66.
	require.Equal(t, 500, plain.Observe(500, 500, 150*ms))
	require.Equal(t, 66, capped.Observe(500, 500, 150*ms))
	// Within two caps: kept; faster than the cap: grown to what takes it.
	require.Equal(t, 66, capped.Observe(66, 66, 30*ms))
	require.Equal(t, 132, capped.Observe(66, 66, 10*ms))

	// Unpaced (no application at work), the cap does not apply.
	unpaced, _, _ := probedSession(t, db, jobs.Governor{}, new(int))
	ctx := context.Background()
	require.True(t, unpaced.Continue(ctx))
	jobs.FeedLatency(unpaced)(ms, nil)
	unpaced.ObserveBatch(ms)
	require.True(t, unpaced.Continue(ctx))
	require.Zero(t, jobs.LatencyShare(unpaced))
	z := unpaced.NewSizer(500, 500, 0)
	z.CapPaced(20 * ms)
	require.Equal(t, 500, z.Observe(500, 500, 150*ms), "unpaced: 150ms is under the 500ms target")
}

// TestPacedTurnLetsOneWorkerAtATimeWhilePaced: while the application works
// (paced), a second worker waits for the first to give the turn back;
// unpaced, workers never wait.
func TestPacedTurnLetsOneWorkerAtATimeWhilePaced(t *testing.T) {
	db := pgtest.NewDB(t, sessionSchema)
	ctx := context.Background()
	app := 1
	s, _, feed := probedSession(t, db, jobs.Governor{}, &app)
	require.Greater(t, jobs.LatencyShare(s), 0.0, "paced from the start")
	release, err := s.PacedTurn(ctx)
	require.NoError(t, err)
	second := make(chan func())
	go func() {
		r, err := s.PacedTurn(ctx)
		if err == nil {
			second <- r
		}
	}()
	select {
	case <-second:
		t.Fatal("a second worker got the turn while the first held it")
	default:
	}
	release()
	(<-second)()

	// A worker waiting for the turn stops waiting when its run ends.
	release, err = s.PacedTurn(ctx)
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.PacedTurn(cctx)
	require.ErrorIs(t, err, context.Canceled)
	release()

	// Unpaced, both go at once.
	app = 0
	require.True(t, s.Continue(ctx))
	s.ObserveBatch(ms)
	feed(ms, nil)
	require.True(t, s.Continue(ctx))
	require.Zero(t, jobs.LatencyShare(s))
	r1, err := s.PacedTurn(ctx)
	require.NoError(t, err)
	r2, err := s.PacedTurn(ctx)
	require.NoError(t, err)
	r1()
	r2()
}
