package jobs

import (
	"context"
	"time"
)

// ReasonWriteRate: a job wrote pages faster than its pacing allows while
// the application works (retention.Config.MaxPacedPageRate).
const ReasonWriteRate = "write_rate"

// Throttle waits d by the run's clock, or until ctx is done or a stop is
// asked for, as a wait of the governor's for reason: counted in the run's
// throttled_ms and lethe_throttled_seconds_total, and, with the latency
// probe, as time lethe is not working. A job calls it for waits of its
// own pacing.
func (s *Session) Throttle(ctx context.Context, reason string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	g := s.gov
	if g == nil {
		g = &governor{}
	}
	_, err := s.throttleSleep(ctx, g, reason, d)
	return err
}

// Paced reports whether the latency probe paces the run now: the
// application is at work and lethe takes less than all of the time.
func (s *Session) Paced() bool {
	_, ok := s.pacedShare()
	return ok
}

// pacedShare is the share of database time the latency probe's pacing
// gives the run, and whether it paces it at all (a share in (0, 1)).
func (s *Session) pacedShare() (float64, bool) {
	if s.gov == nil || s.gov.lat == nil {
		return 0, false
	}
	sh := s.gov.lat.Share()
	return sh, sh > 0 && sh < 1
}
