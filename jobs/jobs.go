package jobs

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lethe-project/lethe/policy"
)

// Job is one named lethe job.
type Job interface {
	// Name is the job's name as selected with --job.
	Name() string
	// Run does the job's work in session s and fills s.Report. What it
	// committed before an error stays committed.
	Run(ctx context.Context, s *Session) error
}

// Exit codes, documented in the README.
const (
	// ExitOK means the job did all it had to do.
	ExitOK = 0
	// ExitFailed means the job failed part way; what was committed is
	// correct and the next run continues.
	ExitFailed = 1
	// ExitConfig means the configuration or policy is wrong; nothing was
	// changed.
	ExitConfig = 2
	// ExitGuard means a safety guard refused the run; nothing was changed.
	ExitGuard = 3
)

// ConfigError is a configuration or policy problem found before any change.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// GuardError is a refusal by a safety guard, before any change.
type GuardError struct{ Reason string }

func (e *GuardError) Error() string { return "refused: " + e.Reason }

// configSQLStates are the server's answers that no retry can change: the
// credentials or the database name in LETHE_DATABASE_URL are wrong.
var configSQLStates = map[string]bool{
	"28P01": true, // invalid_password
	"28000": true, // invalid_authorization_specification (no such role, pg_hba.conf rejects)
	"3D000": true, // invalid_catalog_name: the database does not exist
}

// ExitCode maps a run's error to the process exit code. A wrong password,
// role or database name is configuration (exit 2); a refused or dropped
// connection stays transient (exit 1).
func ExitCode(err error) int {
	var ce *ConfigError
	var ge *GuardError
	var pe *policy.Error
	var pge *pgconn.PgError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ge):
		return ExitGuard
	case errors.As(err, &ce), errors.As(err, &pe):
		return ExitConfig
	case errors.As(err, &pge) && configSQLStates[pge.Code]:
		return ExitConfig
	}
	return ExitFailed
}

// Report is what a run did. It is safe for concurrent use by a job's
// workers; it never holds personal data.
type Report struct {
	mu sync.Mutex

	// Job is the job's name.
	Job string `json:"job"`
	// DryRun is true when nothing was changed on purpose.
	DryRun bool `json:"dry_run"`
	// Started is when the run began.
	Started time.Time `json:"started"`
	// Duration is how long it ran.
	Duration time.Duration `json:"duration_ns"`
	// Rows counts rows per table and action.
	Rows map[string]int64 `json:"rows"`
	// Counters holds the job's own numbers: subjects_done, subjects_left,
	// batches, and so on.
	Counters map[string]int64 `json:"counters"`
	// Gauges holds point-in-time values such as the age of the oldest
	// pending request.
	Gauges map[string]float64 `json:"gauges,omitempty"`
	// Labels holds facts about the run that are not numbers, such as an
	// export's subject hash and destination kind; never personal data.
	Labels map[string]string `json:"labels,omitempty"`
}

// NewReport returns an empty report for job.
func NewReport(job string, dryRun bool) *Report {
	return &Report{Job: job, DryRun: dryRun, Started: time.Now(), Rows: map[string]int64{}, Counters: map[string]int64{}, Gauges: map[string]float64{}}
}

// SetLabel records a fact about the run (see Labels).
func (r *Report) SetLabel(name, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	r.Labels[name] = value
}

// RowKey joins a table and an action as the key of Rows.
func RowKey(table, action string) string { return table + " " + action }

// AddRows adds n rows for table and action.
func (r *Report) AddRows(table, action string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Rows[RowKey(table, action)] += n
}

// Add adds n to a counter.
func (r *Report) Add(counter Counter, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Counters[string(counter)] += n
}

// Set sets a counter.
func (r *Report) Set(counter Counter, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Counters[string(counter)] = n
}

// Max raises a counter to n if n is larger.
func (r *Report) Max(counter Counter, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > r.Counters[string(counter)] {
		r.Counters[string(counter)] = n
	}
}

// SetGauge sets a gauge.
func (r *Report) SetGauge(name Gauge, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Gauges[string(name)] = v
}

// Counter returns a counter's value.
func (r *Report) Counter(name Counter) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Counters[string(name)]
}

// RowCount is one entry of Rows, split back into table and action.
type RowCount struct {
	Table, Action string
	Rows          int64
}

// RowCounts returns Rows sorted by table then action.
func (r *Report) RowCounts() []RowCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RowCount, 0, len(r.Rows))
	for k, n := range r.Rows {
		var rc RowCount
		for i := len(k) - 1; i >= 0; i-- {
			if k[i] == ' ' {
				rc = RowCount{Table: k[:i], Action: k[i+1:], Rows: n}
				break
			}
		}
		out = append(out, rc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Action < out[j].Action
	})
	return out
}

// Checker is a job that can check its part of the policy against the live
// catalog without changing anything; lethe check runs every job's Check
// for the sections the policy has.
type Checker interface {
	Job
	// Check returns a *policy.Error naming every problem, or nil.
	Check(ctx context.Context) error
}

// Merge adds from's rows and counters to r: a batch counts into a report
// of its own and merges it once its transaction committed, so that work
// rolled back is never reported.
func (r *Report) Merge(from *Report) {
	from.mu.Lock()
	defer from.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range from.Rows {
		r.Rows[k] += n
	}
	for k, n := range from.Counters {
		r.Counters[k] += n
	}
}
