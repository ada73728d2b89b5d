package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// startProbes starts the latency prober of a run, once: it times
// startProbes probes before the run's first batch (lethe idle: the
// baseline), then one every ProbeInterval on a connection of its own, while
// batches run and while they wait, until the run ends. Probe latencies
// are real time (they measure the server); the rest of the governor reads
// the run's clock.
func (s *Session) startProbes(ctx context.Context, l *latency) {
	l.mu.Lock()
	if l.started || l.manual || l.stopped {
		l.mu.Unlock()
		return
	}
	l.started = true
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel, l.done = cancel, make(chan struct{})
	l.mu.Unlock()
	for range startProbes {
		took, err := s.probeOnce(pctx, l)
		l.record(s.Limits.Now(), took, err)
		if err != nil {
			break
		}
	}
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.cfg.ProbeInterval)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
			took, err := s.probeOnce(pctx, l)
			if pctx.Err() != nil {
				return
			}
			l.record(s.Limits.Now(), took, err)
			l.mu.Lock()
			off := l.stopped
			l.mu.Unlock()
			if off {
				return
			}
		}
	}()
}

// probeOnce times one probe on the prober's connection, connecting first
// when it has none. A probe that takes longer than its timeout fails with
// an error that wraps context.DeadlineExceeded, and counts as slow.
func (s *Session) probeOnce(ctx context.Context, l *latency) (time.Duration, error) {
	thr, _ := l.lockedThreshold()
	timeout := max(minProbeTimeout, 20*thr)
	if l.conn == nil || l.conn.IsClosed() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(cctx, s.Pool.Config().ConnConfig.Copy())
		if err != nil {
			return 0, fmt.Errorf("latency probe: connect: %w", err)
		}
		l.conn = c
		s.trackPID(c.PgConn().PID())
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := time.Now()
	err := l.conn.QueryRow(pctx, probeSQL).Scan(&l.lastLSN)
	took := time.Since(started)
	if err != nil {
		_ = l.conn.Close(context.WithoutCancel(ctx))
		if pctx.Err() != nil && ctx.Err() == nil {
			return took, fmt.Errorf("latency probe: over %s: %w", timeout, context.DeadlineExceeded)
		}
		return took, fmt.Errorf("latency probe: %w", err)
	}
	return took, nil
}

func (l *latency) lockedThreshold() (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.threshold()
}

// stop ends the prober and closes its connection.
func (l *latency) stop(ctx context.Context) {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel = nil
	l.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	if l.conn != nil {
		_ = l.conn.Close(ctx)
	}
}
