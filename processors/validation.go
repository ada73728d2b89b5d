package processors

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

var allowedMethods = map[string]bool{
	http.MethodDelete: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodGet: true,
}

// Validate checks what can be checked without the environment: the name,
// method, template syntax, status codes and durations. [New] does this and
// the rest.
func (c Config) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("processor %q: %w", c.Name, err)
	}
	return nil
}

func (c Config) validate() error {
	if c.Name == "" {
		return errors.New("name is required")
	}
	for _, r := range c.Name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return errors.New("name may hold only a-z, 0-9, _ and -")
		}
	}
	c = c.withDefaults()
	if !allowedMethods[c.Method] {
		return fmt.Errorf("method %q is not one of DELETE, POST, PUT, PATCH, GET", c.Method)
	}
	if c.URL == "" {
		return errors.New("url is required")
	}
	u, err := parseTemplate(c.URL, true, true)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if len(u.placeholders()) == 0 {
		return errors.New("url has no placeholder such as {key}: every subject would get the same call")
	}
	if c.ExportURL != "" {
		e, err := parseTemplate(c.ExportURL, true, true)
		if err != nil {
			return fmt.Errorf("export_url: %w", err)
		}
		if len(e.placeholders()) == 0 {
			return errors.New("export_url has no placeholder such as {key}: every subject would get the same answer")
		}
	}
	for name, v := range c.Headers {
		if name == "" || strings.ContainsAny(name, " :\r\n") {
			return fmt.Errorf("header name %q is not valid", name)
		}
		if strings.EqualFold(name, "Idempotency-Key") {
			return errors.New("header Idempotency-Key is set by lethe")
		}
		if _, err := parseTemplate(v, false, false); err != nil {
			return fmt.Errorf("header %s: %w", name, err)
		}
	}
	if c.Body != "" {
		if _, err := parseTemplate(c.Body, false, true); err != nil {
			return fmt.Errorf("body: %w", err)
		}
	}
	for _, code := range c.DoneStatus {
		if code < 100 || code > 599 {
			return fmt.Errorf("done_status %d is not an HTTP status", code)
		}
	}
	switch {
	case c.Timeout < 0:
		return errors.New("timeout is negative")
	case c.MaxAttempts < 0 || c.MaxAttempts > 20:
		return fmt.Errorf("max_attempts %d is not between 1 and 20", c.MaxAttempts)
	case c.Backoff < 0:
		return errors.New("backoff is negative")
	case c.MaxBackoff < c.Backoff:
		return errors.New("max_backoff is shorter than backoff")
	}
	return nil
}

// checkURL checks an env-expanded URL template: http or https, and no
// placeholder before the path, so a value can never choose the host.
func checkURL(t template) error {
	first := len(t)
	for i, p := range t {
		if p.name != "" {
			first = i
			break
		}
	}
	fixed, _ := t[:first].render(nil, nil)
	u, err := url.Parse(fixed)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url scheme must be http or https")
	}
	if u.Host == "" || !strings.HasPrefix(u.Path, "/") {
		return fmt.Errorf("url must have a host and a path before the first placeholder")
	}
	full, err := t.render(t.dummyValues(), func(_ int, v string) string { return v })
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if _, err := url.Parse(full); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	return nil
}

// checkBody checks that an env-expanded body template is JSON once its
// placeholders are filled in.
func checkBody(t template) error {
	body, err := t.render(t.dummyValues(), func(_ int, v string) string { return jsonEscape(v) })
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if !json.Valid([]byte(body)) {
		return errors.New("body is not valid JSON once filled in (placeholders must stand inside JSON strings)")
	}
	return nil
}

// jsonEscape escapes v for use inside a JSON string, without quotes.
func jsonEscape(v string) string {
	b, _ := json.Marshal(v)
	return string(b[1 : len(b)-1])
}

// Validate checks a list of processors as [NewSet] would, environment
// included, without making any call: names must be distinct, and every
// ${NAME} referenced must be set.
func Validate(cfgs []Config, lookupEnv func(string) (string, bool)) error {
	_, err := NewSet(cfgs, lookupEnv, nil)
	return err
}
