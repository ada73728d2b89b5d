package jobs

import (
	"context"
	"time"
)

// Clock is where a run reads the time and pauses. Jobs never call
// time.Now or time.Sleep for budgets and retries, so that tests drive them
// with a fake clock instead of depending on the machine's speed.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep pauses for d, or until ctx is done (it then returns ctx's
	// error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Now returns the time by the limits' clock.
func (l Limits) Now() time.Time {
	if l.Clock == nil {
		return time.Now()
	}
	return l.Clock.Now()
}

// Sleep pauses by the limits' clock.
func (l Limits) Sleep(ctx context.Context, d time.Duration) error {
	if l.Clock == nil {
		return realClock{}.Sleep(ctx, d)
	}
	return l.Clock.Sleep(ctx, d)
}
