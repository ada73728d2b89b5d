package purge

import "github.com/lethe-project/lethe/jobs"

// The purge's own counters, besides the shared ones in package jobs.
const (
	// ReceiptsVerifiedLate counts the subjects of batches that earlier runs
	// committed without verifying, verified by this run.
	ReceiptsVerifiedLate jobs.Counter = "receipts_verified_late"
)
