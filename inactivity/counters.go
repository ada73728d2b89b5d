package inactivity

import "github.com/lethe-project/lethe/jobs"

// The inactivity job's own counters (docs/inactivity.md describes them).
const (
	// ToWarn is how many subjects are due a warning (counted before any
	// change, also in a dry run).
	ToWarn jobs.Counter = "to_warn"
	// ToRequest is how many warned subjects are due their deletion request.
	ToRequest jobs.Counter = "to_request"
	// ToClose is how many open notices belong to subjects active again.
	ToClose jobs.Counter = "to_close"
	// Undeliverable is how many inactive subjects no channel can reach.
	Undeliverable jobs.Counter = "undeliverable"
	// PendingDeliveries is how many recorded notices are not yet sent.
	PendingDeliveries jobs.Counter = "pending_deliveries"
	// Warned is how many notices were delivered on every channel.
	Warned jobs.Counter = "warned"
	// DeliveryFailures is how many delivery attempts failed.
	DeliveryFailures jobs.Counter = "delivery_failures"
	// DeliveryStopped is 1 when the run stopped delivering after
	// Config.MaxFailures consecutive failures.
	DeliveryStopped jobs.Counter = "delivery_stopped"
	// DeletionRequested is how many subjects were handed to the purge.
	DeletionRequested jobs.Counter = "deletion_requested"
	// ClosedActiveAgain is how many notices were closed because their
	// subject came back.
	ClosedActiveAgain jobs.Counter = "closed_active_again"
	// NoticesRecorded is how many notices were recorded for delivery.
	NoticesRecorded jobs.Counter = "notices_recorded"
	// NoticesForgotten is how many notices of deleted subjects were
	// removed.
	NoticesForgotten jobs.Counter = "notices_forgotten"
)
