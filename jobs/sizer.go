package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultTargetBatchTime is the transaction time the adaptive batch size
// aims for when Limits.TargetBatchTime is zero: a batch slower than twice
// this (1 s) shrinks the next to what would have taken 500 ms. It is a
// quarter of the 2 s that a transaction beside production should never
// exceed, because the size is set from the last batch's time per unit:
// when the machine's load jumps 3x between two batches (measured on a
// shared 2-core machine), a batch sized for 1 s took 2.8 s, one sized for
// 500 ms stays under 2 s. Retention, whose rows are cheap, aims at its own
// 250 ms (retention.Config.TargetBatchTime).
const DefaultTargetBatchTime = 500 * time.Millisecond

// BatchSize is the current batch size gauge of a run (the last size its
// default Sizer chose).
const BatchSize Gauge = "batch_size"

// Sizer adapts a batch size to a target transaction time, from the time
// per unit of the last batch: a full batch faster than the target grows the
// next one to what would take the target, at most doubling it (and up to
// Max); one slower than twice the target shrinks it to what would have
// taken the target (down to 1); a statement timeout halves it before the
// retry. It is safe for concurrent use by a job's workers, which then
// share one size.
type Sizer struct {
	mu       sync.Mutex
	size     int
	max      int
	target   time.Duration
	onChange func(int)
	// paced, when set, is the target to aim for now (Session.PacedTarget).
	paced func(time.Duration) time.Duration
	// pacedCap, when positive, bounds the paced target (CapPaced).
	pacedCap time.Duration
}

// NewSizer returns a sizer that starts at size and never goes above max
// (at least size), aiming at target (DefaultTargetBatchTime when zero).
func NewSizer(size, max int, target time.Duration) *Sizer {
	if size < 1 {
		size = 1
	}
	if target <= 0 {
		target = DefaultTargetBatchTime
	}
	return &Sizer{size: size, max: maxInt(max, size), target: target}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// Size returns the size of the next batch.
func (z *Sizer) Size() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.size
}

// CapPaced bounds the transaction time the sizer aims for while the run
// is paced (Session.PacedTarget below the target) to limit; zero or less:
// no bound. Unpaced batches keep aiming at the target.
func (z *Sizer) CapPaced(limit time.Duration) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.pacedCap = limit
}

// Target returns the transaction time the sizer aims for.
func (z *Sizer) Target() time.Duration { return z.target }

// Observe adapts the size after a batch of size that did n units of work
// (a full batch did size) and took d, and returns the next size.
func (z *Sizer) Observe(size, n int, d time.Duration) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	target := z.target
	if z.paced != nil {
		if p := z.paced(target); p < target {
			target = p
			if z.pacedCap > 0 {
				target = min(target, z.pacedCap)
			}
		}
	}
	switch {
	case d < target && n >= size && size >= z.size:
		next := z.size * 2
		if d > 0 {
			next = min(next, scale(size, target, d))
		}
		z.set(max(min(next, z.max), z.size))
	case d > 2*target && size <= z.size:
		z.set(max(min(scale(size, target, d), z.size), 1))
	}
	return z.size
}

// scale is the size that, at the time per unit of a batch of size that
// took d, would take target.
func scale(size int, target, d time.Duration) int {
	return int(float64(size) * float64(target) / float64(d))
}

// Halve halves the size (a statement timed out) and returns it.
func (z *Sizer) Halve() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.set(max(z.size/2, 1))
	return z.size
}

func (z *Sizer) set(n int) {
	if n == z.size {
		return
	}
	z.size = n
	if z.onChange != nil {
		z.onChange(n)
	}
}

// StatementTimedOut reports whether err is the run's statement_timeout
// (SQLSTATE 57014), not a cancellation of ctx.
func StatementTimedOut(ctx context.Context, err error) bool {
	return ctx.Err() == nil && SQLState(err) == "57014"
}

// SizedBatch runs one batch of z's current size: fn does at most size
// units of work (subjects, rows, organizations) and returns how many it
// selected. A batch that hit statement_timeout is halved and tried again
// (counted in BatchesRetried); fn retries other trouble itself (InTx,
// Retry). On success z adapts to how long fn took, by the run's clock, and
// SizedBatch returns n and the size fn was given: a batch with n < size
// was the last.
func (s *Session) SizedBatch(ctx context.Context, z *Sizer, fn func(ctx context.Context, size int) (int, error)) (n, size int, err error) {
	for {
		size = z.Size()
		started := s.Limits.Now()
		n, err = fn(ctx, size)
		if err == nil {
			z.Observe(size, n, s.Limits.Now().Sub(started))
			return n, size, nil
		}
		if !StatementTimedOut(ctx, err) || size <= 1 {
			return n, size, err
		}
		s.Report.Add(BatchesRetried, 1)
		s.Logger.Debug("batch timed out, halved", slog.Int("size", z.Halve()))
	}
}
