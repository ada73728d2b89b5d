package purge

import "github.com/lethe-project/lethe/jobs"

// The purge's own counters and gauges, besides the shared ones in package
// jobs.
const (
	// ReceiptsVerifiedLate counts the subjects of batches that earlier runs
	// committed without verifying, verified by this run.
	ReceiptsVerifiedLate jobs.Counter = "receipts_verified_late"
	// OldestOverdueSeconds is how long the oldest eligible request has been
	// past requested_at + grace; 0 when none is.
	OldestOverdueSeconds jobs.Gauge = "oldest_overdue_seconds"
	// GraceSeconds is the policy's grace period.
	GraceSeconds jobs.Gauge = "grace_seconds"
)
