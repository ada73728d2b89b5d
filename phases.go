package main

import (
	"log/slog"
	"time"
)

// phases logs, at debug level, how long each phase of lethe check or lethe
// init took (LETHE_LOG_LEVEL=debug): where the time of a large schema's
// check goes.
type phases struct {
	logger *slog.Logger
	cmd    string
	start  time.Time
	last   time.Time
}

func newPhases(logger *slog.Logger, cmd string) *phases {
	now := time.Now()
	return &phases{logger: logger, cmd: cmd, start: now, last: now}
}

// done logs the phase that ends now.
func (p *phases) done(name string) {
	if p == nil || p.logger == nil {
		return
	}
	now := time.Now()
	p.logger.Debug("phase done", slog.String("command", p.cmd), slog.String("phase", name),
		slog.Int64("ms", now.Sub(p.last).Milliseconds()), slog.Int64("total_ms", now.Sub(p.start).Milliseconds()))
	p.last = now
}
