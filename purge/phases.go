package purge

import (
	"log/slog"
	"time"
)

// phases logs, at debug level, how long each phase of a run took before,
// between and after its batches (the catalog read, lethe's schema, the
// statements' preparation, the batches, the final count): where a short
// run's fixed costs go.
type phases struct {
	logger *slog.Logger
	job    string
	now    func() time.Time
	start  time.Time
	last   time.Time
}

func newPhases(logger *slog.Logger, job string, now func() time.Time) *phases {
	t := now()
	return &phases{logger: logger, job: job, now: now, start: t, last: t}
}

// done logs the phase that ends now.
func (p *phases) done(name string) {
	t := p.now()
	p.logger.Debug("phase done", slog.String("job", p.job), slog.String("phase", name),
		slog.Int64("ms", t.Sub(p.last).Milliseconds()), slog.Int64("total_ms", t.Sub(p.start).Milliseconds()))
	p.last = t
}
