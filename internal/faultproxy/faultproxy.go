// Package faultproxy is an HTTP reverse proxy for tests that makes real
// faults on the wire: error answers (500, S3's 503 SlowDown), dropped
// connections (a TCP reset) and slow answers, switched on and off while a
// test runs, for every request or only for matching ones, for ever or a
// set number of times. Put it in front of MinIO or an HTTP server and point
// the client under test at [Proxy.URL].
//
// It keeps the client's Host header, so S3 signatures made for the proxy's
// address still verify at the server behind it.
package faultproxy

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Action answers a request in place of the server, or delays it and then
// calls forward, which passes it on.
type Action func(w http.ResponseWriter, r *http.Request, forward http.Handler)

// Fault is a fault to inject.
type Fault struct {
	// Match selects the requests the fault applies to; nil matches all.
	Match func(*http.Request) bool
	// Times is how many matching requests get the fault; 0 means every
	// matching request until the fault is removed.
	Times int
	// Action is what happens to them.
	Action Action
}

// Rule is an injected fault. It counts the requests it hit.
type Rule struct {
	fault Fault
	hits  atomic.Int64
}

// Hits returns how many requests the fault has hit so far.
func (r *Rule) Hits() int { return int(r.hits.Load()) }

// Proxy is a reverse proxy on a loopback port with switchable faults.
type Proxy struct {
	// URL is the proxy's base URL, such as "http://127.0.0.1:40123".
	URL string

	srv      *httptest.Server
	forward  http.Handler
	mu       sync.Mutex
	rules    []*Rule
	requests atomic.Int64
}

// New starts a proxy to target, a base URL such as "http://127.0.0.1:9000".
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{}
	p.forward = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // keep the signed Host
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p, nil
}

// Start starts a proxy to target for the length of the test.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Close stops the proxy and drops its connections.
func (p *Proxy) Close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
}

// Inject adds a fault; the earliest injected matching fault with hits left
// wins.
func (p *Proxy) Inject(f Fault) *Rule {
	r := &Rule{fault: f}
	p.mu.Lock()
	p.rules = append(p.rules, r)
	p.mu.Unlock()
	return r
}

// Clear removes all faults: from now on every request is passed on.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.rules = nil
	p.mu.Unlock()
}

// Requests returns how many requests reached the proxy, faulted or not.
func (p *Proxy) Requests() int { return int(p.requests.Load()) }

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	if a := p.take(r); a != nil {
		a(w, r, p.forward)
		return
	}
	p.forward.ServeHTTP(w, r)
}

// take returns the action of the first rule that matches r and has hits
// left, and counts the hit.
func (p *Proxy) take(r *http.Request) Action {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rule := range p.rules {
		if rule.fault.Match != nil && !rule.fault.Match(r) {
			continue
		}
		if rule.fault.Times > 0 && rule.Hits() >= rule.fault.Times {
			continue
		}
		rule.hits.Add(1)
		return rule.fault.Action
	}
	return nil
}

// Method matches requests with the HTTP method m.
func Method(m string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == m }
}

// PathPrefix matches requests whose URL path starts with prefix.
func PathPrefix(prefix string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, prefix) }
}

// HasQuery matches requests whose query has the parameter name, such as
// "delete" for S3 DeleteObjects or "versions" for ListObjectVersions.
func HasQuery(name string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.URL.Query().Has(name) }
}

// All matches requests that every one of ms matches.
func All(ms ...func(*http.Request) bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		for _, m := range ms {
			if !m(r) {
				return false
			}
		}
		return true
	}
}
