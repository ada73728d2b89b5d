package processors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// MaxExportAnswer is the largest export_url answer read, in bytes: a
// processor's copy of one person; a larger answer is an error, never cut.
const MaxExportAnswer = 16 << 20

// CanExport reports whether the processor has an export_url.
func (p *Processor) CanExport() bool { return p.exportURL != nil }

// ExportPlaceholders returns the row values export_url needs ("key" and
// column names), sorted; none without an export_url.
func (p *Processor) ExportPlaceholders() []string { return p.exportURL.placeholders() }

// Export GETs the processor's copy of s from export_url, retrying
// transient failures as Erase does, and returns the JSON answer. Only 200
// with a JSON body is an answer; anything else is an error that names the
// URL template, never the subject's values.
func (p *Processor) Export(ctx context.Context, s Subject) (json.RawMessage, error) {
	fail := func(err error) error {
		return fmt.Errorf("processor %s: GET %s: %w", p.cfg.Name, p.cfg.ExportURL, err)
	}
	if p.exportURL == nil {
		return nil, fail(errors.New("no export_url"))
	}
	target, err := p.exportURL.render(s.Values, func(_ int, v string) string { return url.PathEscape(v) })
	if err != nil {
		return nil, fail(fmt.Errorf("export_url: %w", err))
	}
	for attempt := 1; ; attempt++ {
		body, status, retryAfter, err := p.get(ctx, target)
		switch {
		case err == nil && status == http.StatusOK:
			if !json.Valid(body) {
				return nil, fail(errors.New("the answer is not JSON"))
			}
			return body, nil
		case err != nil && status == http.StatusOK:
			return nil, fail(err) // too large: the same again
		case ctx.Err() != nil:
			return nil, fail(fmt.Errorf("gave up after %d attempts: %w", attempt, ctx.Err()))
		case err == nil && !retryableStatus(status):
			return nil, fail(fmt.Errorf("status %d (not retried)", status))
		case err == nil:
			err = fmt.Errorf("status %d", status)
		}
		if attempt >= p.cfg.MaxAttempts {
			return nil, fail(fmt.Errorf("%w after %d attempts", err, attempt))
		}
		if err := sleep(ctx, p.backoff(attempt, retryAfter)); err != nil {
			return nil, fail(fmt.Errorf("gave up after %d attempts: %w", attempt, err))
		}
	}
}

// get makes one GET of target and reads at most MaxExportAnswer bytes of
// the answer; the error holds no URL.
func (p *Processor) get(ctx context.Context, target string) ([]byte, int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, 0, errors.New("cannot build request")
	}
	req.Header = p.headers.Clone()
	req.Header.Del("Content-Type")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, 0, 0, fmt.Errorf("attempt timed out after %s", p.cfg.Timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error repeats the URL, which holds the subject
		}
		return nil, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, resp.StatusCode, retryAfter(resp.Header.Get("Retry-After")), nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxExportAnswer+1))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read the answer: %w", err)
	}
	if len(body) > MaxExportAnswer {
		return nil, resp.StatusCode, 0, fmt.Errorf("the answer is larger than %d bytes", MaxExportAnswer)
	}
	return body, resp.StatusCode, 0, nil
}
