package inactivity

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the webhook's signature: "t=UNIX,v1=HEX", where
// HEX is the lowercase hex HMAC-SHA256, keyed with the shared secret, of
// the timestamp, a dot, and the raw request body.
const SignatureHeader = "Lethe-Signature"

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

type webhook struct {
	url    string
	secret []byte
	client *http.Client
}

func (w *webhook) name() string { return "webhook" }

// Sign returns the SignatureHeader value for body at time ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a SignatureHeader value against body, as a receiver
// written in Go would: the HMAC must match one v1 value (compared in
// constant time) and the timestamp be within tolerance of now.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts int64 = -1
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("signature: bad timestamp")
			}
			ts = n
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if ts < 0 || len(sigs) == 0 {
		return errors.New("signature: want t=<unix>,v1=<hex>")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature: timestamp outside the tolerance")
	}
	want := Sign(secret, time.Unix(ts, 0), body)
	want = want[strings.Index(want, "v1=")+3:]
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("signature: no match")
}

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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lethe")
	req.Header.Set("Idempotency-Key", n.ID)
	req.Header.Set(SignatureHeader, Sign(w.secret, time.Now(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}
