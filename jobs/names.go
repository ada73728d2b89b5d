package jobs

// Counter names a number a run counts. The names are the contract between
// the jobs that write them, the summary line and table, and package metrics
// that reads them: a typo is a compile error, not a silently missing metric.
type Counter string

// Counters every job may write.
const (
	// Batches is the number of committed batches (dry: counted batches).
	Batches Counter = "batches"
	// BatchesRetried is the number of batches rolled back and retried
	// after lock trouble, a deadlock or a statement timeout.
	BatchesRetried Counter = "batches_retried"
	// BudgetExhausted is 1 when the run stopped at its time budget.
	BudgetExhausted Counter = "budget_exhausted"
	// Stopped is 1 when the run stopped at a signal.
	Stopped Counter = "stopped"
	// LongestTransactionMS is the longest committed batch, in milliseconds.
	LongestTransactionMS Counter = "longest_transaction_ms"
	// SubjectsEligible is how many subjects the run found due.
	SubjectsEligible Counter = "subjects_eligible"
	// SubjectsDone is how many subjects the run finished (committed).
	SubjectsDone Counter = "subjects_done"
	// SubjectsLeft is how many due subjects remain for a later run.
	SubjectsLeft Counter = "subjects_left"
	// RowsLeft is how many due rows remain for a later run (retention).
	RowsLeft Counter = "rows_left"
	// RowsOverdueSeconds is how far past its cutoff, in seconds, the
	// oldest due row a run left is (retention; per table, and the largest
	// under the bare name): 0 when the run finished the table, at least 1
	// when it left detached partitions, -1 when the rows left could not be
	// counted. Not set by a dry run. The metric
	// lethe_retention_oldest_overdue_seconds and the alert
	// LetheRetentionOverdue read it: rows kept longer than the policy
	// promises.
	RowsOverdueSeconds Counter = "oldest_overdue_seconds"
	// ObjectsRemoved is how many object versions were removed.
	ObjectsRemoved Counter = "objects_removed"
	// BytesRemoved is how many bytes those object versions held.
	BytesRemoved Counter = "bytes_removed"
	// StaleRunsClosed is how many runs of earlier, dead processes this run
	// closed as abandoned.
	StaleRunsClosed Counter = "stale_runs_closed"
)

// Gauge names a point-in-time value a run reports.
type Gauge string

// Gauges the purge reports; package metrics publishes them.
const (
	// PendingSubjects is the number of deletion requests not yet erased.
	PendingSubjects Gauge = "pending_subjects"
	// OldestRequestAgeSeconds is the age of the oldest pending request.
	OldestRequestAgeSeconds Gauge = "oldest_request_age_seconds"
	// OldestOverdueSeconds is how long the oldest pending request has been
	// past requested_at + grace; 0 when none is.
	OldestOverdueSeconds Gauge = "oldest_overdue_seconds"
	// GraceSeconds is the policy's grace period.
	GraceSeconds Gauge = "grace_seconds"
	// UnjournaledReceipts is the number of receipts not yet copied to the
	// erasure journal (only with a journal configured).
	UnjournaledReceipts Gauge = "unjournaled_receipts"
	// OldestUnjournaledSeconds is the age of the oldest of them; 0 when
	// none is.
	OldestUnjournaledSeconds Gauge = "oldest_unjournaled_seconds"
)

// The export job's numbers; package metrics publishes them.
const (
	// ExportPendingRequests is the number of access requests not yet done.
	ExportPendingRequests Gauge = "export_pending_requests"
	// ExportOldestRequestAgeSeconds is the age of the oldest access
	// request not yet done; 0 when there is none.
	ExportOldestRequestAgeSeconds Gauge = "export_oldest_request_age_seconds"
	// ArchivesWritten is how many archives the export job wrote.
	ArchivesWritten Counter = "archives_written"
	// ExportFailures is how many archives or notices the export job failed
	// to write or send.
	ExportFailures Counter = "export_failures"
)
