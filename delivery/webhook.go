package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

// Webhook posts signed JSON events to one URL.
type Webhook struct {
	// URL receives the POST.
	URL string
	// Secret signs each request (SignatureHeader).
	Secret []byte
	// Client sends the requests; its Timeout bounds one attempt.
	Client *http.Client
}

// Post sends body, a JSON event, once, with id as its Idempotency-Key: a
// repeat after a crash carries the same id, for the receiver to
// deduplicate. Any answer but 2xx is an error.
func (w *Webhook) Post(ctx context.Context, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lethe")
	req.Header.Set("Idempotency-Key", id)
	req.Header.Set(SignatureHeader, Sign(w.Secret, time.Now(), body))
	resp, err := w.Client.Do(req)
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
