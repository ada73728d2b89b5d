package delivery

import "fmt"

// Failures keeps what a run's failed items are: their ids (the run skips
// them from then on), the first error, and how many failed in a row (a
// receiver or a bucket that is down stops the run's work early).
type Failures struct {
	// IDs lists the failed items; never nil, so that a query can take it
	// as an array.
	IDs    []string
	first  error
	streak int
}

// NewFailures returns an empty record.
func NewFailures() *Failures { return &Failures{IDs: []string{}} }

// Add records the outcome of item id: err nil ends a streak of failures.
func (f *Failures) Add(id string, err error) {
	if err == nil {
		f.streak = 0
		return
	}
	f.IDs = append(f.IDs, id)
	if f.first == nil {
		f.first = err
	}
	f.streak++
}

// Stop reports whether the last max items (or more) all failed.
func (f *Failures) Stop(max int) bool { return f.streak >= max }

// Err returns nil when nothing failed, else an error that says how many
// items failed (what, e.g. "notice(s) not delivered") and wraps the first
// error; job prefixes it.
func (f *Failures) Err(job, what string) error {
	if len(f.IDs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d %s, the next run retries them: %w", job, len(f.IDs), what, f.first)
}
