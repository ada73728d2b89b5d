package jobs

// Tally is what one batch did, kept apart from the run's report until the
// batch commits: work that rolls back is never reported. It is not safe
// for concurrent use; each batch has its own.
type Tally struct {
	rows     map[string]int64
	counters map[Counter]int64
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{rows: map[string]int64{}, counters: map[Counter]int64{}}
}

// AddRows adds n rows for table and action.
func (t *Tally) AddRows(table, action string, n int64) {
	if n != 0 {
		t.rows[RowKey(table, action)] += n
	}
}

// Add adds n to a counter.
func (t *Tally) Add(c Counter, n int64) { t.counters[c] += n }

// Rows returns the rows counted for table and action.
func (t *Tally) Rows(table, action string) int64 { return t.rows[RowKey(table, action)] }

// Counter returns a counter's value so far.
func (t *Tally) Counter(c Counter) int64 { return t.counters[c] }

// merge adds a committed batch's tally.
func (r *Report) merge(t *Tally) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range t.rows {
		r.Rows[k] += n
	}
	for c, n := range t.counters {
		r.Counters[string(c)] += n
	}
}
