package metrics

import (
	"time"

	"github.com/lethe-project/lethe/jobs"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names: the contract with the alert rules and dashboards.
const (
	// NameLastSuccess is the Unix time at which the job last succeeded. It is
	// only written by a successful run, so a failure keeps the last success.
	NameLastSuccess = "lethe_job_last_success_timestamp_seconds"
	// NameLastCompletion is the Unix time at which the last run ended,
	// whatever its outcome.
	NameLastCompletion = "lethe_job_last_completion_timestamp_seconds"
	// NameDuration is how long the last run took, in seconds.
	NameDuration = "lethe_job_duration_seconds"
	// NameExitCode is the exit code of the last run (see jobs.ExitCode).
	NameExitCode = "lethe_job_exit_code"
	// NameRows is the rows the last run that touched rows changed, by table
	// and action.
	NameRows = "lethe_job_rows"
	// NameSubjects is the subjects the last run finished (state="done") and
	// left for a later run (state="left").
	NameSubjects = "lethe_job_subjects"
	// NamePendingSubjects is the number of subjects with a deletion request
	// still to erase, as the purge last saw it.
	NamePendingSubjects = "lethe_purge_pending_subjects"
	// NameOldestRequestAge is the age in seconds of the oldest deletion
	// request still pending, as the purge last saw it.
	NameOldestRequestAge = "lethe_purge_oldest_request_age_seconds"
	// NameOldestOverdue is how long, in seconds, the oldest pending request
	// has been past its requested_at + grace without being erased: the
	// purge's lateness, 0 when no request is past its grace period.
	NameOldestOverdue = "lethe_purge_oldest_overdue_seconds"
	// NameGrace is the policy's grace period in seconds, as the purge last
	// read it: with the purge's schedule it says whether a request can be
	// erased within the month of GDPR Art. 12(3).
	NameGrace = "lethe_purge_grace_seconds"
	// NameUnjournaled is the number of erasure receipts not yet copied to
	// the erasure journal outside the database, as the purge last saw it.
	NameUnjournaled = "lethe_journal_unjournaled_receipts"
	// NameOldestUnjournaled is the age in seconds of the oldest of them (0
	// when none is): how far the journal lags its erasures.
	NameOldestUnjournaled = "lethe_journal_oldest_unjournaled_seconds"
	// NameSkippedRuns counts the runs `lethe schedule` skipped because the
	// previous run of the same job was still going.
	NameSkippedRuns = "lethe_schedule_skipped_runs_total"
)

// purgeGauges maps the report's gauges to the metrics they become.
var purgeGauges = []struct {
	gauge  jobs.Gauge
	metric string
}{
	{jobs.PendingSubjects, NamePendingSubjects},
	{jobs.OldestRequestAgeSeconds, NameOldestRequestAge},
	{jobs.OldestOverdueSeconds, NameOldestOverdue},
	{jobs.GraceSeconds, NameGrace},
	{jobs.UnjournaledReceipts, NameUnjournaled},
	{jobs.OldestUnjournaledSeconds, NameOldestUnjournaled},
}

// run is what one run publishes, read from its report.
type run struct {
	job       string
	success   bool
	completed time.Time
	duration  time.Duration
	exitCode  int
	rows      []jobs.RowCount
	// subjects is nil when the job counts no subjects.
	subjects map[string]int64
	// gauges holds the purge gauges the report has, by metric name.
	gauges map[string]float64
}

// readRun reads a finished run's report. The hooks run after the job has
// returned, so nothing writes to the report any more.
func readRun(r *jobs.Report, err error) run {
	s := run{
		job:       r.Job,
		success:   err == nil,
		completed: r.Started.Add(r.Duration),
		duration:  r.Duration,
		exitCode:  jobs.ExitCode(err),
		rows:      r.RowCounts(),
		gauges:    map[string]float64{},
	}
	done, hasDone := r.Counters[string(jobs.SubjectsDone)]
	left, hasLeft := r.Counters[string(jobs.SubjectsLeft)]
	if hasDone || hasLeft {
		s.subjects = map[string]int64{"done": done, "left": left}
	}
	for _, g := range purgeGauges {
		if v, ok := r.Gauges[string(g.gauge)]; ok {
			s.gauges[g.metric] = v
		}
	}
	return s
}

// gauges are the run metrics, with extra leading labels (none on a
// Pushgateway, where the grouping key adds lethe_job; lethe_job in a
// Registry).
type gauges struct {
	lastSuccess, lastCompletion, duration, exitCode *prometheus.GaugeVec
	rows, subjects                                  *prometheus.GaugeVec
	purge                                           map[string]*prometheus.GaugeVec
}

func newGauges(labels ...string) *gauges {
	vec := func(name, help string, more ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, append(append([]string{}, labels...), more...))
	}
	return &gauges{
		lastSuccess:    vec(NameLastSuccess, "Unix time of the last successful run of the lethe job."),
		lastCompletion: vec(NameLastCompletion, "Unix time at which the last run of the lethe job ended, whatever its outcome."),
		duration:       vec(NameDuration, "Duration of the last run of the lethe job in seconds."),
		exitCode:       vec(NameExitCode, "Exit code of the last run of the lethe job: 0 done, 1 failed, 2 configuration, 3 refused by a guard."),
		rows:           vec(NameRows, "Rows changed by the last run of the lethe job that changed rows, by table and action.", "table", "action"),
		subjects:       vec(NameSubjects, "Subjects the last run of the lethe job finished (done) and left for a later run (left).", "state"),
		purge: map[string]*prometheus.GaugeVec{
			NamePendingSubjects:   vec(NamePendingSubjects, "Subjects whose deletion request is still to be erased, as the last purge saw them."),
			NameOldestRequestAge:  vec(NameOldestRequestAge, "Age in seconds of the oldest pending deletion request, as the last purge saw it."),
			NameOldestOverdue:     vec(NameOldestOverdue, "Seconds the oldest pending deletion request has been past requested_at + grace, as the last purge saw it; 0 when none is."),
			NameGrace:             vec(NameGrace, "The policy's grace period in seconds, as the last purge read it."),
			NameUnjournaled:       vec(NameUnjournaled, "Erasure receipts not yet copied to the erasure journal, as the last purge saw them."),
			NameOldestUnjournaled: vec(NameOldestUnjournaled, "Age in seconds of the oldest receipt not yet journaled, as the last purge saw it; 0 when none is."),
		},
	}
}

func (g *gauges) collectors() []prometheus.Collector {
	cs := []prometheus.Collector{g.lastSuccess, g.lastCompletion, g.duration, g.exitCode, g.rows, g.subjects}
	for _, pg := range purgeGauges {
		cs = append(cs, g.purge[pg.metric])
	}
	return cs
}

// set records s under the leading label values lv. A family the run has
// nothing for (no rows, no subjects) keeps its earlier series, as a
// Pushgateway does with an Add; one it has replaces them.
func (g *gauges) set(lv []string, s run) {
	with := func(more ...string) []string { return append(append([]string{}, lv...), more...) }
	if s.success {
		g.lastSuccess.WithLabelValues(lv...).Set(unixSeconds(s.completed))
	}
	g.lastCompletion.WithLabelValues(lv...).Set(unixSeconds(s.completed))
	g.duration.WithLabelValues(lv...).Set(s.duration.Seconds())
	g.exitCode.WithLabelValues(lv...).Set(float64(s.exitCode))
	if len(s.rows) > 0 {
		deleteAll(g.rows, lv)
		for _, rc := range s.rows {
			g.rows.WithLabelValues(with(rc.Table, rc.Action)...).Set(float64(rc.Rows))
		}
	}
	for state, n := range s.subjects {
		g.subjects.WithLabelValues(with(state)...).Set(float64(n))
	}
	for name, v := range s.gauges {
		g.purge[name].WithLabelValues(lv...).Set(v)
	}
}

// deleteAll removes the series of vec under the leading label values lv
// (all of them when there are none).
func deleteAll(vec *prometheus.GaugeVec, lv []string) {
	if len(lv) == 0 {
		vec.Reset()
		return
	}
	vec.DeletePartialMatch(prometheus.Labels{jobLabel: lv[0]})
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
