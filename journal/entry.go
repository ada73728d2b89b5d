package journal

import (
	"time"

	"github.com/lethe-project/lethe/ledger"
)

// formatVersion is written in every entry; a reader refuses a newer one.
const formatVersion = 1

// Entry is one erasure as the journal records it: a receipt, without
// anything that is not in the receipt. No key, no personal data.
type Entry struct {
	// V is the entry format's version.
	V int `json:"v"`
	// SubjectHash is the keyed hash of the subject's key (32 hex digits).
	SubjectHash string `json:"subject_hash"`
	// KeyID is the fingerprint of the hash key that made SubjectHash (see
	// subject.Hasher.Fingerprint); empty when the run did not record one.
	KeyID string `json:"key_id,omitempty"`
	// ErasedAt is when the erasure committed.
	ErasedAt time.Time `json:"erased_at"`
	// RequestedAt is when deletion was requested, when it was.
	RequestedAt *time.Time `json:"requested_at,omitempty"`
	// RunID is the lethe run that erased the subject.
	RunID int64 `json:"run_id,omitempty"`
	// PolicySHA256 is the digest of the policy the run used.
	PolicySHA256 string `json:"policy_sha256"`
	// Rows counts the rows each step touched.
	Rows []ledger.RowCount `json:"rows"`
	// Objects counts the objects removed per location template.
	Objects []ledger.ObjectCount `json:"objects"`
	// Processors lists the processors that confirmed the erasure.
	Processors []string `json:"processors"`
}
