package metrics

import (
	"strings"
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
	// NameThrottled is the time lethe waited for the database's health
	// before its batches, by reason (see jobs.Governor): in a Registry the
	// total over the process's runs, on a Pushgateway the last run's.
	NameThrottled = "lethe_throttled_seconds_total"
	// NameBatchSize is the batch size the last run's adaptive sizing
	// ended at (see jobs.Sizer).
	NameBatchSize = "lethe_job_batch_size"
	// NameExportPendingRequests is the number of access requests not yet
	// done, as the export job last saw them.
	NameExportPendingRequests = "lethe_export_pending_requests"
	// NameExportOldestRequestAge is the age in seconds of the oldest access
	// request not yet done, as the export job last saw it: GDPR Art. 12(3)
	// gives one month to answer.
	NameExportOldestRequestAge = "lethe_export_oldest_request_age_seconds"
	// NameExportArchivesWritten is how many archives the last export run
	// wrote.
	NameExportArchivesWritten = "lethe_export_archives_written"
	// NameExportFailures is how many archives or notices the last export
	// run failed to write or send.
	NameExportFailures = "lethe_export_failures"
	// NameSkippedRuns counts the runs `lethe schedule` skipped because the
	// previous run of the same job was still going.
	NameSkippedRuns = "lethe_schedule_skipped_runs_total"
	// NameRetentionRowsLeft is, by table, the rows older than their
	// cutoff that the last retention run left (budget spent, stop, a table
	// it could not finish): 0 for a table it finished, -1 when they could
	// not be counted.
	NameRetentionRowsLeft = "lethe_retention_rows_left"
	// NameRetentionOldestOverdue is, by table, how far past its cutoff, in
	// seconds, the oldest row the last retention run left is: how much
	// longer than the policy promises that table keeps its rows. 0 for a
	// table it finished, -1 when not counted.
	NameRetentionOldestOverdue = "lethe_retention_oldest_overdue_seconds"
)

// Suffixes of the retention job's per-table counters read into
// NameRetentionRowsLeft and NameRetentionOldestOverdue.
const (
	rowsLeftSuffix = "." + string(jobs.RowsLeft)
	overdueSuffix  = "." + string(jobs.RowsOverdueSeconds)
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
	{jobs.ExportPendingRequests, NameExportPendingRequests},
	{jobs.ExportOldestRequestAgeSeconds, NameExportOldestRequestAge},
}

// exportCounters maps the export job's counters to the metrics they
// become.
var exportCounters = []struct {
	counter jobs.Counter
	metric  string
}{
	{jobs.ArchivesWritten, NameExportArchivesWritten},
	{jobs.ExportFailures, NameExportFailures},
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
	// throttled is the seconds waited per reason; batchSize the last
	// adaptive size, -1 when the report has none.
	throttled map[string]float64
	batchSize float64
	// tables is, for a retention run, each table's rows left and how far
	// past its cutoff the oldest of them is; nil for other jobs.
	tables map[string]*tableLeft
}

// tableLeft is what a retention run left of one table.
type tableLeft struct{ rows, overdueSeconds int64 }

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
		throttled: map[string]float64{},
		batchSize: -1,
	}
	prefix := string(jobs.ThrottledMS) + "."
	for k, ms := range r.Counters {
		if reason, ok := strings.CutPrefix(k, prefix); ok {
			s.throttled[reason] = float64(ms) / 1000
		}
	}
	if v, ok := r.Gauges[string(jobs.BatchSize)]; ok {
		s.batchSize = v
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
	for _, c := range exportCounters {
		if v, ok := r.Counters[string(c.counter)]; ok {
			s.gauges[c.metric] = float64(v)
		}
	}
	if r.Job == "retention" {
		s.tables = retentionTables(r.Counters)
	}
	return s
}

// retentionTables reads the per-table counters TABLE.rows_left and
// TABLE.oldest_overdue_seconds of a retention report.
func retentionTables(counters map[string]int64) map[string]*tableLeft {
	out := map[string]*tableLeft{}
	at := func(table string) *tableLeft {
		if out[table] == nil {
			out[table] = &tableLeft{}
		}
		return out[table]
	}
	for k, v := range counters {
		if table, ok := strings.CutSuffix(k, rowsLeftSuffix); ok && table != "" {
			at(table).rows = v
		}
		if table, ok := strings.CutSuffix(k, overdueSuffix); ok && table != "" {
			at(table).overdueSeconds = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// gauges are the run metrics, with extra leading labels (none on a
// Pushgateway, where the grouping key adds lethe_job; lethe_job in a
// Registry).
type gauges struct {
	lastSuccess, lastCompletion, duration, exitCode *prometheus.GaugeVec
	rows, subjects, batchSize                       *prometheus.GaugeVec
	purge                                           map[string]*prometheus.GaugeVec
	throttled                                       *prometheus.CounterVec
	rowsLeft, overdue                               *prometheus.GaugeVec
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
		batchSize:      vec(NameBatchSize, "Batch size the adaptive sizing of the last run of the lethe job ended at."),
		rowsLeft:       vec(NameRetentionRowsLeft, "Rows older than their cutoff that the last retention run left, by table: 0 when it finished the table, -1 when not counted.", "table"),
		overdue:        vec(NameRetentionOldestOverdue, "Seconds past its cutoff of the oldest row the last retention run left, by table: 0 when it finished the table, -1 when not counted.", "table"),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameThrottled,
			Help: "Seconds the lethe job waited for the database's health before its batches, by reason."},
			append(append([]string{}, labels...), "reason")),
		purge: map[string]*prometheus.GaugeVec{
			NamePendingSubjects:        vec(NamePendingSubjects, "Subjects whose deletion request is still to be erased, as the last purge saw them."),
			NameOldestRequestAge:       vec(NameOldestRequestAge, "Age in seconds of the oldest pending deletion request, as the last purge saw it."),
			NameOldestOverdue:          vec(NameOldestOverdue, "Seconds the oldest pending deletion request has been past requested_at + grace, as the last purge saw it; 0 when none is."),
			NameGrace:                  vec(NameGrace, "The policy's grace period in seconds, as the last purge read it."),
			NameUnjournaled:            vec(NameUnjournaled, "Erasure receipts not yet copied to the erasure journal, as the last purge saw them."),
			NameOldestUnjournaled:      vec(NameOldestUnjournaled, "Age in seconds of the oldest receipt not yet journaled, as the last purge saw it; 0 when none is."),
			NameExportPendingRequests:  vec(NameExportPendingRequests, "Access requests not yet done, as the last export run saw them."),
			NameExportOldestRequestAge: vec(NameExportOldestRequestAge, "Age in seconds of the oldest access request not yet done, as the last export run saw it; 0 when none."),
			NameExportArchivesWritten:  vec(NameExportArchivesWritten, "Archives the last export run wrote."),
			NameExportFailures:         vec(NameExportFailures, "Archives or notices the last export run failed to write or send."),
		},
	}
}

func (g *gauges) collectors() []prometheus.Collector {
	cs := []prometheus.Collector{g.lastSuccess, g.lastCompletion, g.duration, g.exitCode, g.rows, g.subjects, g.batchSize, g.throttled,
		g.rowsLeft, g.overdue}
	for _, pg := range purgeGauges {
		cs = append(cs, g.purge[pg.metric])
	}
	for _, c := range exportCounters {
		cs = append(cs, g.purge[c.metric])
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
	if s.batchSize >= 0 {
		g.batchSize.WithLabelValues(lv...).Set(s.batchSize)
	}
	for reason, secs := range s.throttled {
		g.throttled.WithLabelValues(with(reason)...).Add(secs)
	}
	if s.tables != nil {
		// The tables of this run replace the last one's: a table no
		// longer in the policy goes.
		deleteAll(g.rowsLeft, lv)
		deleteAll(g.overdue, lv)
		for table, tl := range s.tables {
			g.rowsLeft.WithLabelValues(with(table)...).Set(float64(tl.rows))
			g.overdue.WithLabelValues(with(table)...).Set(float64(tl.overdueSeconds))
		}
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
