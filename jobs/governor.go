package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Governor defaults.
const (
	// DefaultMaxReplicaLag is the replay lag above which the governor waits.
	DefaultMaxReplicaLag = 5 * time.Second
	// DefaultMaxThrottle bounds the total time one run waits for the
	// database to recover; past it the run stops and fails (exit 1).
	DefaultMaxThrottle = 5 * time.Minute
	// DefaultThrottlePoll is how often a waiting run looks again.
	DefaultThrottlePoll = time.Second
	// DefaultActiveShare is the ceiling of active connections, as a share
	// of max_connections, when Governor.MaxActive is zero.
	DefaultActiveShare = 0.8
	// SlowBatchFactor: a batch slower than this many target transaction
	// times makes the next one wait as long as it took.
	SlowBatchFactor = 4
)

// Reasons the governor waits, as they label lethe_throttled_seconds_total
// and the run's throttled_ms.REASON counters.
const (
	ReasonReplicaLag         = "replica_lag"
	ReasonReplicaUnreachable = "replica_unreachable"
	ReasonLockWaits          = "lock_waits"
	ReasonConnections        = "connections"
	ReasonSlowBatches        = "slow_batches"
	// ReasonLatency (governor_latency.go): the latency probe was slow.
)

// Counters the governor writes.
const (
	// ThrottledMS is the total time the run waited for the database, in
	// milliseconds; ThrottledCounter(reason) holds it per reason.
	ThrottledMS Counter = "throttled_ms"
	// ThrottledOut is 1 when the run stopped because the database stayed
	// unhealthy past Governor.MaxThrottle.
	ThrottledOut Counter = "throttled_out"
)

// ThrottledCounter is the counter of the milliseconds waited for reason.
func ThrottledCounter(reason string) Counter { return Counter(string(ThrottledMS) + "." + reason) }

// Governor is how a run keeps out of the application's way: before each
// batch it reads the database's health and waits while it is poor. Zero
// values take the defaults above. Several lethe processes read the same
// health, so N pods do not add N times the load.
type Governor struct {
	// Off disables the governor.
	Off bool
	// MaxReplicaLag is the replay lag (pg_stat_replication.replay_lag on
	// the primary, and of each of ReplicaURLs) above which the run waits.
	// Default 5s.
	MaxReplicaLag time.Duration
	// ReplicaURLs are replicas to ask for their own lag (now minus the
	// last replayed commit, when WAL is waiting to be replayed); one that
	// cannot be reached counts as lagging.
	ReplicaURLs []string
	// MaxActive is the ceiling of non-idle client connections of the
	// whole server, lethe's included; at or above it the run waits.
	// Default 0: 80% of max_connections.
	MaxActive int
	// MaxLockWaiters is how many other sessions may wait on locks that
	// lethe holds before the run waits for them. Default 0.
	MaxLockWaiters int
	// MaxThrottle bounds the total wait of one run; past it the run stops
	// starting batches and fails with a *ThrottledError (exit 1), so that
	// the alert on failed runs fires. Default 5m.
	MaxThrottle time.Duration
	// Poll is how long a waiting run waits before it looks again.
	// Default 1s.
	Poll time.Duration
	// LatencyProbe turns on the latency probe (governor_latency.go): a
	// tiny write transaction timed every ProbeInterval on a connection of
	// its own, whose COMMIT waits for the WAL flush as the application's
	// do. While the application has sessions at work, a probe slower than
	// ProbeFactor times its baseline (its lower quartile while lethe is idle, and
	// at least MinProbeLatency) holds the run until a probe is fast again,
	// and halves lethe's share of database time (its batch time per second,
	// summed over workers, never below MinShare); fast probes raise the
	// share again by ShareRamp each, up to MaxShare. Off in the zero value;
	// the binary turns it on (LETHE_LATENCY_PROBE). A run starts paced at
	// a quarter of the database's time or MaxShare if lower (by default it
	// is: 0.1), and ramps up to MaxShare while probes are fast; without
	// application sessions at work it does not pace.
	LatencyProbe bool
	// ProbeFactor is how many times its baseline a probe may take before
	// it is slow. Default 2.
	ProbeFactor float64
	// MinProbeLatency is the floor of the slow threshold. Default 5ms:
	// an application's own p99 is rarely below it.
	MinProbeLatency time.Duration
	// ProbeInterval is how often the probe runs. Default 100ms.
	ProbeInterval time.Duration
	// MinShare is the least share of database time pacing leaves lethe
	// (0.05: 50ms of batches per second). Default 0.05.
	MinShare float64
	// MaxShare is the most share of database time pacing gives lethe
	// while the application works, however fast the probes; a run starts
	// at 0.25 or MaxShare if lower. Default 0.5; at least MinShare.
	MaxShare float64
	// ShareRamp is how much each fast probe raises the share, as a
	// fraction of it. Default 0.05 (5%).
	ShareRamp float64
	// Processes is how many processes run the job at once (LETHE_PODS,
	// the chart's parallelism; a Runner takes the shard count when it is
	// more). MinShare and MaxShare are the job's: each process paces at
	// its 1/Processes of them, so that N pods beside the application take
	// the share one would, not N times it. 0 or 1: this one alone.
	Processes int
}

func (g *Governor) setDefaults() {
	if g.MaxReplicaLag <= 0 {
		g.MaxReplicaLag = DefaultMaxReplicaLag
	}
	if g.MaxThrottle <= 0 {
		g.MaxThrottle = DefaultMaxThrottle
	}
	if g.Poll <= 0 {
		g.Poll = DefaultThrottlePoll
	}
	if g.ProbeFactor <= 0 {
		g.ProbeFactor = DefaultProbeFactor
	}
	if g.MinProbeLatency <= 0 {
		g.MinProbeLatency = DefaultMinProbeLatency
	}
	if g.ProbeInterval <= 0 {
		g.ProbeInterval = DefaultProbeInterval
	}
	if g.MinShare <= 0 || g.MinShare > 1 {
		g.MinShare = DefaultMinShare
	}
	if g.MaxShare <= 0 || g.MaxShare > 1 {
		g.MaxShare = DefaultMaxShare
	}
	g.MaxShare = max(g.MaxShare, g.MinShare)
	if g.ShareRamp <= 0 {
		g.ShareRamp = DefaultShareRamp
	}
}

// ThrottledError says that a run stopped because the database stayed
// unhealthy for longer than the governor's bound. What was committed stays
// committed; the next run continues.
type ThrottledError struct {
	// Reason is why the run waited last.
	Reason string
	// Waited is the total wait of the run.
	Waited time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("stopped after waiting %s for the database (%s): raise LETHE_MAX_THROTTLE or find out why the database is unhealthy",
		e.Waited.Round(time.Millisecond), e.Reason)
}

// Health is what the governor read before a batch.
type Health struct {
	// ReplicaLag is the largest replay lag seen.
	ReplicaLag time.Duration
	// ReplicaDown is true when a replica of ReplicaURLs did not answer.
	ReplicaDown bool
	// LockWaiters is how many other sessions wait on locks lethe holds.
	LockWaiters int
	// Active and MaxActive are the non-idle client connections and their
	// ceiling.
	Active, MaxActive int
	// LastBatch is how long lethe's last batch took.
	LastBatch time.Duration
	// AppSessions is how many client sessions of the database, not
	// lethe's, are at work or were within the last second: the latency
	// probe counts only while there are some.
	AppSessions int
}

// governor is a session's throttling state; one per run, shared by its
// workers.
type governor struct {
	mu        sync.Mutex
	cfg       Governor
	replicas  map[string]*pgx.Conn
	waited    time.Duration
	reason    string // the reason of the wait in progress, "" when none
	since     time.Time
	polls     int // pauses of the wait in progress
	lastBatch time.Duration
	failed    *ThrottledError
	lat       *latency // nil without the latency probe
	// probe, set by tests, runs after each health read; edit before the
	// governor judges it.
	probe func(Health)
	edit  func(*Health)
}

// reasonOf returns why h is poor, "" when it is healthy. Replicas first:
// their lag is what a read-your-writes application notices.
func (g *governor) reasonOf(h Health, target time.Duration) string {
	switch {
	case h.ReplicaDown:
		return ReasonReplicaUnreachable
	case h.ReplicaLag > g.cfg.MaxReplicaLag:
		return ReasonReplicaLag
	case h.LockWaiters > g.cfg.MaxLockWaiters:
		return ReasonLockWaits
	case h.MaxActive > 0 && h.Active >= h.MaxActive:
		return ReasonConnections
	case h.LastBatch > SlowBatchFactor*target:
		return ReasonSlowBatches
	}
	return ""
}

// govern waits, before a batch, while the database is unhealthy, for at
// most the governor's bound over the whole run. It returns the stop's or
// ctx's error when one ends the wait, and a *ThrottledError once the bound
// is spent. A health read that fails is logged and does not hold the run:
// the batch meets the same database and reports what is wrong. Then the
// latency probe's pacing may pause the batch (not counted in the bound).
func (s *Session) govern(ctx context.Context) error {
	g := s.gov
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed != nil {
		return g.failed
	}
	if g.lat != nil {
		s.startProbes(ctx, g.lat)
	}
	for {
		h, err := s.readHealth(ctx, g)
		if g.edit != nil {
			g.edit(&h)
		}
		if g.probe != nil {
			g.probe(h)
		}
		if err != nil {
			s.Logger.Warn("governor: health not read, going on", slog.String("error", OneLine(err)))
			return g.pace(ctx, s)
		}
		reason := g.reasonOf(h, s.sizer.Target())
		if reason == "" && g.latencyHolds(s, h) {
			reason = ReasonLatency
		}
		if reason == "" {
			g.stopThrottle(s)
			return g.pace(ctx, s)
		}
		if g.reason != reason {
			g.stopThrottle(s)
			g.reason, g.since, g.polls = reason, s.Limits.Now(), 0
			s.Logger.Warn("throttle started", slog.String("reason", reason), healthAttrs(h))
		}
		if g.waited >= g.cfg.MaxThrottle {
			g.failed = &ThrottledError{Reason: reason, Waited: g.waited}
			s.Report.Set(ThrottledOut, 1)
			s.Logger.Error("throttle bound reached: stopping", slog.String("reason", reason),
				slog.Duration("waited", g.waited), healthAttrs(h))
			return g.failed
		}
		pause := g.cfg.Poll
		switch reason {
		case ReasonSlowBatches:
			pause, g.lastBatch = h.LastBatch, 0
		case ReasonLatency:
			pause = g.cfg.ProbeInterval
		}
		first := g.polls == 0
		g.polls++
		waited, err := s.throttleSleep(ctx, g, reason, min(pause, g.cfg.MaxThrottle-g.waited))
		if reason != ReasonLatency || !first {
			// A hold's first pause lets lethe's own batches end: only a
			// probe still slow after it says the database is unhealthy.
			g.waited += waited
		}
		if err != nil {
			return err
		}
	}
}

// throttleSleep waits d by the run's clock, or until ctx is done or a stop
// is asked for, counts the wait under reason and returns it.
func (s *Session) throttleSleep(ctx context.Context, g *governor, reason string, d time.Duration) (time.Duration, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.Limits.Stop, cancel)()
	if g.lat != nil {
		g.lat.setWorking(false, s.Limits.Now())
	}
	started := s.Limits.Now()
	err := s.Limits.Sleep(sctx, d)
	waited := s.Limits.Now().Sub(started)
	if err == nil {
		// A clock that did not move (a test's) still spends the bound.
		waited = max(waited, d)
	}
	s.Report.Add(ThrottledCounter(reason), waited.Milliseconds())
	s.Report.Add(ThrottledMS, waited.Milliseconds())
	return waited, err
}

// stopThrottle logs the end of the wait in progress, if any.
func (g *governor) stopThrottle(s *Session) {
	if g.reason == "" {
		return
	}
	s.Logger.Info("throttle stopped", slog.String("reason", g.reason), slog.Duration("waited", s.Limits.Now().Sub(g.since)))
	g.reason = ""
}

func healthAttrs(h Health) slog.Attr {
	return slog.Group("health", slog.Duration("replica_lag", h.ReplicaLag), slog.Bool("replica_down", h.ReplicaDown),
		slog.Int("lock_waiters", h.LockWaiters), slog.Int("active_connections", h.Active),
		slog.Int("max_active_connections", h.MaxActive), slog.Duration("last_batch", h.LastBatch),
		slog.Int("app_sessions", h.AppSessions))
}

// close stops the latency prober and closes the replica connections.
func (g *governor) close(ctx context.Context) {
	if g.lat != nil {
		g.lat.stop(ctx)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for u, c := range g.replicas {
		_ = c.Close(ctx)
		delete(g.replicas, u)
	}
}

// ObserveBatch records that one of the run's batches took d: the governor
// waits after a batch slower than SlowBatchFactor target times.
func (s *Session) ObserveBatch(d time.Duration) {
	if g := s.gov; g != nil {
		g.mu.Lock()
		g.lastBatch = d
		g.mu.Unlock()
		if g.lat != nil {
			g.lat.observe(d)
		}
	}
}

// trackPID remembers a backend pid of this run, whose lock waiters the
// governor counts.
func (s *Session) trackPID(pid uint32) {
	s.pidMu.Lock()
	defer s.pidMu.Unlock()
	if s.pids == nil {
		s.pids = map[uint32]bool{}
	}
	s.pids[pid] = true
}

func (s *Session) backendPIDs() []int32 {
	s.pidMu.Lock()
	defer s.pidMu.Unlock()
	out := make([]int32, 0, len(s.pids))
	for p := range s.pids {
		out = append(out, int32(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
