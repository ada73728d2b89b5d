package faultproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/faultproxy"
)

func TestProxy(t *testing.T) {
	t.Parallel()
	var hosts []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(backend.Close)
	p := faultproxy.Start(t, backend.URL)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string, error) {
		resp, err := client.Get(p.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	slow := p.Inject(faultproxy.Fault{Match: faultproxy.PathPrefix("/s3"), Times: 2, Action: faultproxy.SlowDown()})
	reset := p.Inject(faultproxy.Fault{Match: faultproxy.PathPrefix("/drop"), Action: faultproxy.Reset()})

	for range 2 {
		code, body, err := get("/s3/x")
		require.NoError(t, err)
		require.Equal(t, 503, code)
		require.Contains(t, body, "<Code>SlowDown</Code>")
	}
	code, body, err := get("/s3/x")
	require.NoError(t, err)
	require.Equal(t, 200, code, "Times ran out: passed on")
	require.Equal(t, "ok", body)
	require.Equal(t, 2, slow.Hits())

	_, _, err = get("/drop")
	require.Error(t, err)
	require.Equal(t, 1, reset.Hits())

	p.Clear()
	code, _, err = get("/drop")
	require.NoError(t, err)
	require.Equal(t, 200, code)
	require.Equal(t, 5, p.Requests())
	require.Equal(t, p.URL[len("http://"):], hosts[0], "Host header is kept for signatures")
}
