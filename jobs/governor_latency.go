package jobs

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Latency probe defaults (see Governor.LatencyProbe).
const (
	// DefaultProbeFactor: a probe is slow when it takes more than this
	// many times the probe's baseline (the lower quartile of the last
	// probes taken while lethe was idle: a stall of the machine's own
	// does not raise it, a server slower for everyone does).
	DefaultProbeFactor = 2.0
	// DefaultMinProbeLatency is the floor of the slow threshold: a probe
	// faster than this is never slow, however fast the baseline.
	DefaultMinProbeLatency = 5 * time.Millisecond
	// DefaultProbeInterval is how often the probe runs, and how often a
	// run held by a slow probe looks again.
	DefaultProbeInterval = 100 * time.Millisecond
	// DefaultMinShare is the least share of database time (batch time
	// per second of the run, summed over workers) pacing leaves lethe.
	DefaultMinShare = 0.05
	// DefaultMaxShare is the most share of database time pacing gives
	// lethe while the application works: what a burst of unpaced work
	// costs (WAL, dirty pages, autovacuum) comes after the probes that
	// let it go. On a quiet database the probe is never slow (its floor
	// sits above the application's own p99) and lethe takes all of the
	// cap: at 0.5, a purge took the load's p99 to 1.67-1.83x of the load
	// alone; at 0.25, 1.42-1.61x; at 0.1, 1.38x (retention 2.57x, 2.10-
	// 2.92x, 1.78x), at about a quarter of 0.25's rate (README,
	// Benchmarks: B5-B10, R20-R22).
	DefaultMaxShare = 0.1
	// DefaultShareRamp is how much each fast probe raises the share, as
	// a fraction of it (0.05: 5%).
	DefaultShareRamp = 0.05
)

// Pacing constants: a slow probe halves lethe's share of database time, a
// probe within the threshold raises it by Governor.ShareRamp, up to
// Governor.MaxShare; a run starts at startShare (at most MaxShare). The
// last baselineProbes idle probes make the baseline, startProbes of them
// before the run's first batch.
const (
	startShare = 0.25
	// slowOf of the last slowWindow probes taken while lethe works must
	// be slow for a verdict of slow: one stall of the machine's own is
	// not lethe's doing.
	slowOf, slowWindow = 2, 3
	baselineProbes     = 9
	startProbes        = 5
	maxProbeErrors     = 3
	minProbeTimeout    = time.Second
	minPacedTarget     = 10 * time.Millisecond
)

// ReasonLatency labels the waits of the latency probe and its pacing.
const ReasonLatency = "latency"

// Counters of the latency probe.
const (
	// ProbeErrors is how many latency probes failed; after maxProbeErrors
	// in a row (or one the role may not run) the probe is off for the run.
	ProbeErrors Counter = "latency_probe_errors"
	// ProbeSlow is how many latency probes taken while lethe worked were
	// slower than the threshold.
	ProbeSlow Counter = "latency_probes_slow"
)

// probeSQL is the latency probe: a transaction that writes a WAL record
// (a transactional logical message, no table) so that its COMMIT waits for
// the WAL flush as the application's writes do. A transaction that only
// takes an xid writes its commit record but does not wait for its flush
// (RecordTransactionCommit flushes only when the transaction wrote WAL
// before its commit record).
const probeSQL = `SELECT pg_logical_emit_message(true, 'lethe.probe', '')::text`

// probeSample is one probe's outcome.
type probeSample struct {
	took time.Duration
	err  error
	idle bool // lethe had nothing in flight
	seq  int
}

// latency is the run's latency probe and pacing state. Its own lock: the
// prober records while govern sleeps with the governor's lock held.
type latency struct {
	mu       sync.Mutex
	cfg      Governor
	manual   bool // a test feeds the samples; no prober
	started  bool // the prober runs
	stopped  bool // off for the run (errors)
	cancel   context.CancelFunc
	done     chan struct{}
	conn     *pgx.Conn
	lastLSN  string        // of the last probe's WAL record
	samples  []probeSample // not yet judged
	seq      int
	idle     []time.Duration // the last baselineProbes idle probes
	errs     int             // errors in a row
	recent   []bool          // whether each of the last busy probes was slow
	working  bool            // a batch may be in flight
	pausedAt time.Time       // when all batches were held, when !working
	maxBatch time.Duration
	// share is lethe's allowed share of database time, 0 when not pacing;
	// credit the batch time it may still spend.
	share    float64
	credit   time.Duration
	refilled time.Time
	// turn is held by the one worker whose batch may run while paced
	// (Session.PacedTurn).
	turn chan struct{}
}

// newLatency starts paced at startShare: a run with a cap above it ramps
// up while the probe stays fast (to a cap of 0.5 in about 1.5s) rather
// than learning from a slow probe that its first full-size batches hurt;
// the default cap (0.1) is below it, so a run starts at the cap.
func newLatency(cfg Governor) *latency {
	return &latency{cfg: cfg, share: cfg.startShare(), turn: make(chan struct{}, 1)}
}

// startShare is the share a run, or the pacing when the application comes
// back, starts at.
func (g Governor) startShare() float64 { return min(startShare, g.MaxShare) }

// threshold is the slow threshold; ok is false until a baseline exists.
func (l *latency) threshold() (thr time.Duration, ok bool) {
	if len(l.idle) == 0 {
		return 0, false
	}
	s := append([]time.Duration(nil), l.idle...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	base := s[len(s)/4]
	return max(l.cfg.MinProbeLatency, time.Duration(l.cfg.ProbeFactor*float64(base))), true
}

// record adds a probe's outcome, taken at now by the run's clock.
func (l *latency) record(now time.Time, took time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	idle := !l.working && (l.pausedAt.IsZero() || now.Sub(l.pausedAt) >= l.maxBatch)
	l.seq++
	l.samples = append(l.samples, probeSample{took: took, err: err, idle: idle, seq: l.seq})
	if err == nil && idle {
		l.idle = append(l.idle, took)
		if len(l.idle) > baselineProbes {
			l.idle = l.idle[1:]
		}
	}
}

// verdict judges the samples recorded since the last verdict: slow is
// true when slowOf of the last slowWindow taken while lethe worked (or,
// held, any one) were over the threshold while the application had
// sessions at work (app). fresh is
// false when there was none to judge. Probes taken while lethe worked
// adapt the pacing's share.
func (l *latency) verdict(s *Session, held, app bool) (slow, fresh bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false, true
	}
	thr, ok := l.threshold()
	var worst time.Duration
	for _, p := range l.samples {
		timedOut := errors.Is(p.err, context.DeadlineExceeded)
		if p.err != nil {
			l.errs++
			s.Report.Add(ProbeErrors, 1)
			if !timedOut && (l.errs >= maxProbeErrors || isPrivilegeError(p.err)) {
				l.off(s, p.err)
				return false, true
			}
			if !timedOut {
				continue
			}
		} else {
			l.errs = 0
		}
		if !ok || (p.idle && !held) {
			continue
		}
		fresh = true
		worst = max(worst, p.took)
		over := app && (timedOut || p.took > thr)
		if held {
			slow = slow || over
			continue
		}
		if l.recent = append(l.recent, over); len(l.recent) > slowWindow {
			l.recent = l.recent[1:]
		}
		if count(l.recent) >= slowOf {
			slow, l.recent = true, l.recent[:0]
		}
	}
	l.samples = l.samples[:0]
	if fresh && !held {
		if slow {
			s.Report.Add(ProbeSlow, 1)
		}
		l.adapt(s, slow, app)
	}
	if fresh {
		s.Logger.Debug("latency probe", slog.Duration("took", worst), slog.Duration("threshold", thr),
			slog.Bool("slow", slow), slog.Bool("held", held), slog.Bool("app", app), slog.Float64("db_share", l.share))
	}
	return slow, fresh
}

// off turns the probe and pacing off for the rest of the run.
func (l *latency) off(s *Session, err error) {
	if l.stopped {
		return
	}
	l.stopped, l.share = true, 0
	s.Logger.Warn("governor: latency probe failed, going on without it", slog.String("error", OneLine(err)))
}

// adapt halves the share after a slow probe and raises it after a fast
// one, up to MaxShare; without application sessions at work the pacing
// ends, and starts again at startShare when they are back.
func (l *latency) adapt(s *Session, slow, app bool) {
	now := s.Limits.Now()
	switch {
	case !app:
		if l.share > 0 {
			l.share = 0
			s.Logger.Debug("pacing stopped: no application session at work")
		}
	case l.share == 0:
		l.share, l.credit, l.refilled = l.cfg.startShare(), 0, now
		if slow {
			l.share = max(l.share/2, l.cfg.MinShare)
		}
		s.Logger.Debug("pacing started", slog.Float64("db_share", l.share))
	case slow:
		l.share = max(l.share/2, l.cfg.MinShare)
	default:
		// While the application works, lethe never takes more than
		// MaxShare: what a burst of unpaced work costs (WAL, dirty
		// pages, autovacuum) comes after the probes that let it go.
		l.share = min(l.share*(1+l.cfg.ShareRamp), l.cfg.MaxShare)
	}
}

// observe counts a batch of d against the pacing credit.
func (l *latency) observe(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maxBatch = max(l.maxBatch, d)
	if l.share > 0 {
		l.credit -= d
	}
}

// pacingPause is how long lethe must wait before its next batch for its
// batch time to stay within its share, 0 when it need not.
func (l *latency) pacingPause(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.share == 0 {
		return 0
	}
	l.credit += time.Duration(l.share * float64(now.Sub(l.refilled)))
	l.refilled = now
	l.credit = min(l.credit, time.Duration(l.share*float64(l.cfg.ProbeInterval)))
	if l.credit >= 0 {
		return 0
	}
	return time.Duration(float64(-l.credit) / l.share)
}

// setWorking records whether batches may be in flight: false while the
// governor holds them all.
func (l *latency) setWorking(w bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.working && !w {
		l.pausedAt = now
	}
	l.working = w
}

// Share is lethe's share of database time the pacing allows, 0 when it
// does not pace.
func (l *latency) Share() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.share
}

func isPrivilegeError(err error) bool {
	switch SQLState(err) {
	case "42501", "42883", "55000": // insufficient_privilege, undefined_function, object_not_in_prerequisite_state
		return true
	}
	return false
}

// PacedTarget is the batch time to aim for instead of target while the
// latency probe paces the run: target times lethe's share of database
// time (at least 10ms), so that each batch is a short burst of work and
// the pause after it stays about one target long. It is target when the
// run is not paced. The run's sizers use it; a job with a model of its own
// (retention's block ranges) asks it before each batch.
func (s *Session) PacedTarget(target time.Duration) time.Duration {
	sh, ok := s.pacedShare()
	if !ok {
		return target
	}
	return max(time.Duration(sh*float64(target)), min(target, minPacedTarget))
}

// PacedTurn lets one worker of the run at a time work while the latency
// probe paces it (the application is at work): it waits until no other
// worker holds the turn, or ctx is done, and returns the function that
// gives the turn back. Unpaced, it returns at once and workers run side
// by side. A job calls it before the governor's check and gives the turn
// back after everything its batch does, verification included: two
// batches (or a batch and the previous one's verification) at once held
// both cores of a 2-core database and made the application's slowest
// reads three times as slow as one batch did.
func (s *Session) PacedTurn(ctx context.Context) (release func(), err error) {
	if !s.Paced() {
		return func() {}, nil
	}
	l := s.gov.lat
	select {
	case l.turn <- struct{}{}:
		return func() { <-l.turn }, nil
	case <-ctx.Done():
		return func() {}, ctx.Err()
	}
}

// latencyHolds reports whether the latency probe holds the run: a probe
// slower than its threshold while the application works, and, once held,
// until a fresh probe is fast.
func (g *governor) latencyHolds(s *Session, h Health) bool {
	if g.lat == nil {
		return false
	}
	held := g.reason == ReasonLatency
	slow, fresh := g.lat.verdict(s, held, h.AppSessions > 0)
	return slow || (held && !fresh)
}

// pace pauses before a batch as long as the latency pacing asks (counted
// as latency, outside the bound), then lets the batch go.
func (g *governor) pace(ctx context.Context, s *Session) error {
	if g.lat == nil {
		return nil
	}
	if d := g.lat.pacingPause(s.Limits.Now()); d > 0 {
		if _, err := s.throttleSleep(ctx, g, ReasonLatency, d); err != nil {
			return err
		}
	}
	g.lat.setWorking(true, s.Limits.Now())
	return nil
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
