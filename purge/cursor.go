package purge

import (
	"fmt"
	"slices"
	"sync"
)

// cursor remembers where a dry run's keyset pagination stands, and which
// subjects failed in this run so that no batch selects them again.
type cursor struct {
	mu      sync.Mutex
	ra, key *string
	failed  []string
}

func newCursor() *cursor { return &cursor{failed: []string{}} }

func (c *cursor) failedKeys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.failed...)
}

// failedSubjectsError says that some subjects of a batch kept their rows
// because their outside data could not be erased; the others went ahead.
type failedSubjectsError struct {
	n     int
	first error
}

func (e *failedSubjectsError) Error() string {
	return fmt.Sprintf("%d subject(s) kept for the next run, their outside data is not all erased: %v", e.n, e.first)
}

// dropFailed removes from a selection the subjects that failed earlier in
// this run. The list the select excluded was read before the select ran: a
// subject that another worker failed and released in between would
// otherwise be taken again and erased, after the run had counted it kept.
// A worker adds a failed subject to the list before its transaction ends,
// so once this batch holds the subject's lock, the list has it.
func dropFailed(sel selected, cur *cursor) selected {
	failed := cur.failedKeys()
	if len(failed) == 0 || len(sel.subjects) == 0 {
		return sel
	}
	out := selected{n: sel.n, lastRA: sel.lastRA}
	for i, s := range sel.subjects {
		if !slices.Contains(failed, s.Key) {
			out.subjects = append(out.subjects, s)
			out.requested = append(out.requested, sel.requested[i])
		}
	}
	return out
}
