package processors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Processor erases subjects at one third party. Build it with [New]; it is
// safe for concurrent use.
type Processor struct {
	cfg     Config // with defaults
	url     template
	headers http.Header
	body    template // nil: no body
	// exportURL is the expanded export_url; nil when there is none.
	exportURL template
	done      map[int]bool
	client    *http.Client
	// target is "METHOD url-template" as written, for errors: it names
	// neither subject values nor environment values.
	target string
}

// New checks cfg, resolves its ${NAME} references with lookupEnv, and
// returns a ready processor. All configuration errors surface here, before
// any call is made. A nil client means http.DefaultClient; each attempt's
// timeout comes from cfg, not from the client.
func New(cfg Config, lookupEnv func(string) (string, bool), client *http.Client) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := build(cfg.withDefaults(), lookupEnv, client)
	if err != nil {
		return nil, fmt.Errorf("processor %q: %w", cfg.Name, err)
	}
	return p, nil
}

func build(cfg Config, lookupEnv func(string) (string, bool), client *http.Client) (*Processor, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	if client == nil {
		client = http.DefaultClient
	}
	p := &Processor{cfg: cfg, client: client, headers: http.Header{}, done: map[int]bool{},
		target: cfg.Method + " " + cfg.URL}
	u, _ := parseTemplate(cfg.URL, true, true)
	var err error
	if p.url, err = u.expandEnv(lookupEnv); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if err := checkURL(p.url); err != nil {
		return nil, err
	}
	if cfg.ExportURL != "" {
		e, _ := parseTemplate(cfg.ExportURL, true, true)
		if p.exportURL, err = e.expandEnv(lookupEnv); err != nil {
			return nil, fmt.Errorf("export_url: %w", err)
		}
		if err := checkURL(p.exportURL); err != nil {
			return nil, fmt.Errorf("export_%w", err)
		}
	}
	for name, v := range cfg.Headers {
		h, _ := parseTemplate(v, false, false)
		if h, err = h.expandEnv(lookupEnv); err != nil {
			return nil, fmt.Errorf("header %s: %w", name, err)
		}
		val, _ := h.render(nil, nil)
		if strings.ContainsAny(val, "\r\n") {
			return nil, fmt.Errorf("header %s: value holds a line break", name)
		}
		p.headers.Set(name, val)
	}
	if cfg.Body != "" {
		b, _ := parseTemplate(cfg.Body, false, true)
		if p.body, err = b.expandEnv(lookupEnv); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		if err := checkBody(p.body); err != nil {
			return nil, err
		}
		if p.headers.Get("Content-Type") == "" {
			p.headers.Set("Content-Type", "application/json")
		}
	}
	for _, c := range cfg.DoneStatus {
		p.done[c] = true
	}
	return p, nil
}

// Name returns the processor's name.
func (p *Processor) Name() string { return p.cfg.Name }

// Placeholders returns the row values the processor needs ("key" and
// column names), sorted.
func (p *Processor) Placeholders() []string {
	all := append(template{}, p.url...)
	return append(all, p.body...).placeholders()
}

// IdempotencyKey derives the Idempotency-Key sent with every call for a
// subject at a processor: the same on every attempt and every run, distinct
// per processor, and computed from the subject's hash, never its key.
func IdempotencyKey(subjectHash, processor string) string {
	sum := sha256.Sum256([]byte("lethe-erase-v1\x00" + processor + "\x00" + subjectHash))
	return "lethe-" + hex.EncodeToString(sum[:20])
}

// Erase calls the processor for s, retrying transient failures, and
// returns the outcome. It never returns personal data: errors name the URL
// template, not the URL.
func (p *Processor) Erase(ctx context.Context, s Subject) Result {
	res := Result{Processor: p.cfg.Name}
	fail := func(err error) Result {
		res.Err = fmt.Errorf("processor %s: %s: %w", p.cfg.Name, p.target, err)
		return res
	}
	if s.Hash == "" {
		return fail(errors.New("subject has no hash"))
	}
	target, body, err := p.render(s.Values)
	if err != nil {
		return fail(err)
	}
	idem := IdempotencyKey(s.Hash, p.cfg.Name)
	for {
		res.Attempts++
		status, retryAfter, err := p.attempt(ctx, target, body, idem)
		res.Status = status
		switch {
		case err == nil && p.done[status]:
			res.Confirmed = true
			return res
		case ctx.Err() != nil:
			return fail(fmt.Errorf("gave up after %d attempts: %w", res.Attempts, ctx.Err()))
		case err == nil && !retryableStatus(status):
			return fail(fmt.Errorf("status %d is not a done status (not retried)", status))
		case err == nil:
			err = fmt.Errorf("status %d", status)
		}
		if res.Attempts >= p.cfg.MaxAttempts {
			return fail(fmt.Errorf("%w after %d attempts", err, res.Attempts))
		}
		if err := sleep(ctx, p.backoff(res.Attempts, retryAfter)); err != nil {
			return fail(fmt.Errorf("gave up after %d attempts: %w", res.Attempts, err))
		}
	}
}

// render fills in the URL (path values path-escaped, query values
// query-escaped) and the body.
func (p *Processor) render(values map[string]string) (string, string, error) {
	queryFrom := len(p.url)
	for i, pc := range p.url {
		if strings.Contains(pc.text, "?") {
			queryFrom = i
			break
		}
	}
	target, err := p.url.render(values, func(i int, v string) string {
		if i > queryFrom {
			return url.QueryEscape(v)
		}
		return url.PathEscape(v)
	})
	if err != nil {
		return "", "", fmt.Errorf("url: %w", err)
	}
	var body string
	if p.body != nil {
		if body, err = p.body.render(values, func(_ int, v string) string { return jsonEscape(v) }); err != nil {
			return "", "", fmt.Errorf("body: %w", err)
		}
	}
	return target, body, nil
}

// attempt makes one call. It returns the status, any Retry-After delay, and
// an error only when no answer came; the error holds no URL.
func (p *Processor) attempt(ctx context.Context, target, body, idem string) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if p.body != nil {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, p.cfg.Method, target, rd)
	if err != nil {
		return 0, 0, errors.New("cannot build request")
	}
	req.Header = p.headers.Clone()
	req.Header.Set("Idempotency-Key", idem)
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return 0, 0, fmt.Errorf("attempt timed out after %s", p.cfg.Timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error repeats the URL, which holds the subject
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After")), nil
}

// retryableStatus reports whether an answer may change on retry.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooEarly ||
		code == http.StatusTooManyRequests || code >= 500
}

// retryAfter parses a Retry-After header in seconds or as a date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}

// backoff is the pause after the given failed attempt: a random time
// between half and all of Backoff·2^(attempt-1), at least retryAfter, and
// never more than MaxBackoff.
func (p *Processor) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceil := p.cfg.Backoff
	for i := 1; i < attempt && ceil < p.cfg.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.cfg.MaxBackoff)
	d := ceil/2 + time.Duration(rand.Int64N(int64(ceil/2)+1))
	return min(max(d, retryAfter), p.cfg.MaxBackoff)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
