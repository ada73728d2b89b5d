package processors_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/faultproxy"
	"github.com/lethe-project/lethe/processors"
)

// seen is one request as the processor's server received it.
type seen struct {
	method, uri, idem, auth, body string
}

// testBundle is a real HTTP server standing in for the processor, behind a
// fault proxy, and what it saw.
type testBundle struct {
	proxy *faultproxy.Proxy
	mu    sync.Mutex
	reqs  []seen
	// status is what the server answers; 204 unless a test sets it.
	status int
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{status: http.StatusNoContent}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, seen{r.Method, r.RequestURI, r.Header.Get("Idempotency-Key"), r.Header.Get("Authorization"), string(body)})
		status := b.status
		b.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	b.proxy = faultproxy.Start(t, srv.URL)
	return b
}

func (b *testBundle) requests() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seen(nil), b.reqs...)
}

func (b *testBundle) setStatus(code int) {
	b.mu.Lock()
	b.status = code
	b.mu.Unlock()
}

// config is a Clerk-like processor pointed at the proxy.
func (b *testBundle) config() processors.Config {
	return processors.Config{
		Name:       "clerk",
		URL:        b.proxy.URL + "/v1/users/{user_id}",
		Headers:    map[string]string{"Authorization": "Bearer ${CLERK_SECRET_KEY}"},
		Timeout:    30 * time.Second, // never reached by a test's real requests
		Backoff:    5 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
	}
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
}

var clerkEnv = env(map[string]string{"CLERK_SECRET_KEY": "sk_test_123"})

func subject(userID string) processors.Subject {
	return processors.Subject{Hash: "h-0001", Values: map[string]string{"key": "42", "user_id": userID}}
}

func newProcessor(t *testing.T, cfg processors.Config) *processors.Processor {
	t.Helper()
	p, err := processors.New(cfg, clerkEnv, nil)
	require.NoError(t, err)
	return p
}

func TestEraseConfirms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := newProcessor(t, b.config())
	require.Equal(t, []string{"user_id"}, p.Placeholders())

	res := p.Erase(context.Background(), subject("user a/b?c"))
	require.NoError(t, res.Err)
	require.True(t, res.Confirmed)
	require.Equal(t, 204, res.Status)
	require.Equal(t, 1, res.Attempts)
	reqs := b.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "DELETE", reqs[0].method)
	require.Equal(t, "/v1/users/user%20a%2Fb%3Fc", reqs[0].uri, "values are path-escaped, never path structure")
	require.Equal(t, "Bearer sk_test_123", reqs[0].auth)
	require.Equal(t, processors.IdempotencyKey("h-0001", "clerk"), reqs[0].idem)
}

func TestNotFoundIsDone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setStatus(http.StatusNotFound)
	res := newProcessor(t, b.config()).Erase(context.Background(), subject("user_1"))
	require.NoError(t, res.Err)
	require.True(t, res.Confirmed)
	require.Equal(t, 404, res.Status)

	cfg := b.config()
	cfg.DoneStatus = []int{200, 204}
	res = newProcessor(t, cfg).Erase(context.Background(), subject("user_1"))
	require.False(t, res.Confirmed, "404 is done only when listed")
	require.ErrorContains(t, res.Err, "status 404 is not a done status")
	require.Equal(t, 1, res.Attempts, "a 404 does not change on retry")
}

func TestRetriesWithSameIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var keys []string
	record := func(r *http.Request) bool {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		return true
	}
	fault := b.proxy.Inject(faultproxy.Fault{Match: record, Times: 2, Action: faultproxy.Status(500, nil, "boom")})

	res := newProcessor(t, b.config()).Erase(context.Background(), subject("user_1"))
	require.NoError(t, res.Err)
	require.True(t, res.Confirmed)
	require.Equal(t, 3, res.Attempts)
	require.Equal(t, 2, fault.Hits())
	reqs := b.requests()
	require.Len(t, reqs, 1)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, keys, 3)
	for _, k := range keys {
		require.Equal(t, reqs[0].idem, k, "every attempt carries the same key")
	}
	require.NotContains(t, reqs[0].idem, "user_1")
	require.NotContains(t, reqs[0].idem, "h-0001")
}

func TestRetriesConnectionReset(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fault := b.proxy.Inject(faultproxy.Fault{Times: 1, Action: faultproxy.Reset()})
	res := newProcessor(t, b.config()).Erase(context.Background(), subject("user_1"))
	require.NoError(t, res.Err)
	require.True(t, res.Confirmed)
	require.Equal(t, 2, res.Attempts)
	require.Equal(t, 1, fault.Hits())
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The proxy never answers: only the timeout can end an attempt.
	b.proxy.Inject(faultproxy.Fault{Action: faultproxy.Delay(24 * time.Hour)})
	cfg := b.config()
	cfg.Timeout = 100 * time.Millisecond
	cfg.MaxAttempts = 2
	p := newProcessor(t, cfg)
	done := make(chan processors.Result, 1)
	go func() { done <- p.Erase(context.Background(), subject("user_1")) }()
	var res processors.Result
	select {
	case res = <-done:
	case <-time.After(time.Minute): // generous: two attempts of 100ms
		t.Fatal("the attempts are not bounded by Timeout")
	}
	require.False(t, res.Confirmed)
	require.ErrorContains(t, res.Err, "timed out after 100ms after 2 attempts")
	require.Equal(t, 2, res.Attempts)
	require.Zero(t, res.Status)
	require.Empty(t, b.requests())
}

func TestPersistentFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fault := b.proxy.Inject(faultproxy.Fault{Action: faultproxy.Status(503, nil, `{"error":"user user_secret_9 is busy"}`)})
	cfg := b.config()
	cfg.MaxAttempts = 3
	res := newProcessor(t, cfg).Erase(context.Background(), subject("user_secret_9"))
	require.False(t, res.Confirmed)
	require.Equal(t, 3, res.Attempts)
	require.Equal(t, 3, fault.Hits())
	require.Equal(t, 503, res.Status)
	require.ErrorContains(t, res.Err, "processor clerk: DELETE "+b.proxy.URL+"/v1/users/{user_id}: status 503 after 3 attempts")
	require.NotContains(t, res.Err.Error(), "user_secret_9", "no personal data in errors")
}

func TestTransportErrorHidesURL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.config()
	cfg.URL = "http://127.0.0.1:1/v1/users/{user_id}" // nothing listens on port 1
	cfg.MaxAttempts = 2
	res := newProcessor(t, cfg).Erase(context.Background(), subject("user_secret_9"))
	require.False(t, res.Confirmed)
	require.Equal(t, 2, res.Attempts)
	require.ErrorContains(t, res.Err, "refused")
	require.NotContains(t, res.Err.Error(), "user_secret_9")
}

func TestClientErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setStatus(http.StatusUnauthorized)
	res := newProcessor(t, b.config()).Erase(context.Background(), subject("user_1"))
	require.False(t, res.Confirmed)
	require.Equal(t, 1, res.Attempts)
	require.Equal(t, 401, res.Status)
}

func TestRejectsUnsafeValuesBeforeCalling(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := newProcessor(t, b.config())
	for _, v := range []string{"", ".", ".."} {
		res := p.Erase(context.Background(), subject(v))
		require.False(t, res.Confirmed)
		require.ErrorContains(t, res.Err, "{user_id}")
		require.Zero(t, res.Attempts)
	}
	res := p.Erase(context.Background(), processors.Subject{Hash: "h", Values: map[string]string{"key": "42"}})
	require.ErrorContains(t, res.Err, "no value for {user_id}")
	res = p.Erase(context.Background(), processors.Subject{Values: map[string]string{"user_id": "u"}})
	require.ErrorContains(t, res.Err, "no hash")
	require.Empty(t, b.requests())
}

func TestJSONBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.config()
	cfg.Name = "crm"
	cfg.Method = "POST"
	cfg.URL = b.proxy.URL + "/erase?account={key}"
	cfg.Body = `{"user": {"id": "{user_id}", "reason": "gdpr-art17"}, "token": "${CRM_TOKEN}"}`
	cfg.Headers = nil
	p, err := processors.New(cfg, env(map[string]string{"CRM_TOKEN": "t0k"}), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"key", "user_id"}, p.Placeholders())

	res := p.Erase(context.Background(), processors.Subject{Hash: "h", Values: map[string]string{"key": "a&b", "user_id": `quo"te\`}})
	require.NoError(t, res.Err)
	reqs := b.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/erase?account=a%26b", reqs[0].uri)
	var got struct {
		User  struct{ ID string }
		Token string
	}
	require.NoError(t, json.Unmarshal([]byte(reqs[0].body), &got))
	require.Equal(t, `quo"te\`, got.User.ID)
	require.Equal(t, "t0k", got.Token)
}

func TestMissingEnvIsConfigError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := processors.NewSet([]processors.Config{b.config()}, env(nil), nil)
	require.ErrorContains(t, err, `processor "clerk": header Authorization: environment variable CLERK_SECRET_KEY is not set`)
	err = processors.Validate([]processors.Config{b.config()}, env(map[string]string{"CLERK_SECRET_KEY": ""}))
	require.ErrorContains(t, err, "CLERK_SECRET_KEY is not set")
	require.Zero(t, b.proxy.Requests(), "no call before the configuration is whole")
}

func TestSetEraseAll(t *testing.T) {
	t.Parallel()
	ok, failing := setup(t), setup(t)
	failing.setStatus(http.StatusForbidden)
	bad := failing.config()
	bad.Name = "stripe"
	set, err := processors.NewSet([]processors.Config{ok.config(), bad}, clerkEnv, nil)
	require.NoError(t, err)

	results, err := set.EraseAll(context.Background(), subject("user_1"))
	require.Len(t, results, 2)
	require.True(t, results[0].Confirmed)
	require.False(t, results[1].Confirmed)
	require.ErrorContains(t, err, "processor stripe")
	require.NotContains(t, err.Error(), "processor clerk")
	require.NotEqual(t, ok.requests()[0].idem, failing.requests()[0].idem, "keys differ per processor")
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	k := processors.IdempotencyKey("hash-a", "clerk")
	require.Equal(t, k, processors.IdempotencyKey("hash-a", "clerk"))
	require.NotEqual(t, k, processors.IdempotencyKey("hash-b", "clerk"))
	require.NotEqual(t, k, processors.IdempotencyKey("hash-a", "stripe"))
	require.True(t, strings.HasPrefix(k, "lethe-"))
	require.LessOrEqual(t, len(k), 255)
}
