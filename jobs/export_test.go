package jobs

import (
	"context"
	"time"
)

// SetHealthProbe makes the governor of s call f after each health read.
func SetHealthProbe(s *Session, f func(Health)) { s.gov.probe = f }

// SetHealthEdit makes the governor of s change each health read before it
// judges it.
func SetHealthEdit(s *Session, f func(*Health)) { s.gov.edit = f }

// FeedLatency stops the latency prober of s from starting and returns a
// function that records one probe's outcome as the prober would, at the
// run's time.
func FeedLatency(s *Session) func(took time.Duration, err error) {
	l := s.gov.lat
	l.mu.Lock()
	l.manual = true
	l.mu.Unlock()
	return func(took time.Duration, err error) { l.record(s.Limits.Now(), took, err) }
}

// LatencyShare is the share of database time the pacing of s allows, 0
// when it does not pace.
func LatencyShare(s *Session) float64 {
	if s.gov.lat == nil {
		return 0
	}
	return s.gov.lat.Share()
}

// ProbeOnce runs the real latency probe of s once.
func ProbeOnce(ctx context.Context, s *Session) (time.Duration, error) {
	return s.probeOnce(ctx, s.gov.lat)
}

// LatencyThreshold is the slow threshold of the probe of s.
func LatencyThreshold(s *Session) (time.Duration, bool) { return s.gov.lat.lockedThreshold() }

// StopProbes stops the latency prober of s.
func StopProbes(s *Session) { s.gov.lat.stop(context.Background()) }

// ProbeLSN is the WAL position of the last probe's record.
func ProbeLSN(s *Session) string { return s.gov.lat.lastLSN }
