package inactivity

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lethe-project/lethe/delivery"
)

// SignatureHeader carries the webhook's signature; see
// delivery.SignatureHeader.
const SignatureHeader = delivery.SignatureHeader

// Sign and Verify are delivery's, kept here for the receivers' docs.
var (
	// Sign returns the SignatureHeader value for a body; see delivery.Sign.
	Sign = delivery.Sign
	// Verify checks a SignatureHeader value; see delivery.Verify.
	Verify = delivery.Verify
)

// Event is the webhook's JSON body.
type Event struct {
	// Type is "inactivity.warning".
	Type string `json:"type"`
	// NoticeID identifies the warning; it is also the Idempotency-Key.
	NoticeID string `json:"notice_id"`
	// SubjectKey is the subject's key as text.
	SubjectKey string `json:"subject_key"`
	// LastActiveAt is the last activity the warning is about.
	LastActiveAt time.Time `json:"last_active_at"`
	// DeletionRequestedAt is when lethe will request the deletion if the
	// subject stays inactive; absent with then: notify-only.
	DeletionRequestedAt *time.Time `json:"deletion_requested_at,omitempty"`
}

type webhook struct{ delivery.Webhook }

func (w *webhook) name() string { return "webhook" }

func (w *webhook) deliver(ctx context.Context, n *Notice) error {
	ev := Event{Type: "inactivity.warning", NoticeID: n.ID, SubjectKey: n.Key, LastActiveAt: n.LastActive.UTC()}
	if !n.DeletionDate.IsZero() {
		d := n.DeletionDate.UTC()
		ev.DeletionRequestedAt = &d
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return w.Post(ctx, n.ID, body)
}
