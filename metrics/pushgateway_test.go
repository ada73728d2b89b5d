package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// startPushgateway runs a real prometheus-pushgateway on a free loopback
// port with its own persistence file and returns its URL. It skips the test
// when the binary is missing, or fails it when LETHE_REQUIRE_TOOLS is set.
func startPushgateway(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-pushgateway")
	if err != nil {
		msg := "prometheus-pushgateway not found on PATH; install it with scripts/install-prometheus.sh"
		if os.Getenv("LETHE_REQUIRE_TOOLS") != "" {
			t.Fatal(msg + " (LETHE_REQUIRE_TOOLS is set)")
		}
		t.Skip(msg + " (set LETHE_REQUIRE_TOOLS=1 to make this a failure)")
	}
	dir := t.TempDir()
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		var out bytes.Buffer
		cmd := exec.Command(bin,
			"--web.listen-address="+addr,
			"--persistence.file="+filepath.Join(dir, "pushgateway.data"),
			"--log.level=warn")
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		url := "http://" + addr
		if waitReady(url, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
				if t.Failed() {
					t.Logf("pushgateway output:\n%s", out.String())
				}
			})
			return url
		}
		_ = cmd.Process.Kill()
		<-exited
		t.Logf("pushgateway on %s did not start (attempt %d):\n%s", addr, attempt+1, out.String())
	}
	t.Fatal("could not start prometheus-pushgateway")
	return ""
}

// waitReady polls /-/ready until it answers 200, the process exits, or a
// minute passes (a generous bound on an external process's start).
func waitReady(url string, exited <-chan error) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// scrape reads url's /metrics and parses it.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// series returns the value of the one series of name whose labels include
// want, and whether there is one.
func series(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	var found []float64
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if hasLabels(m, want) {
			switch {
			case m.Gauge != nil:
				found = append(found, m.GetGauge().GetValue())
			case m.Counter != nil:
				found = append(found, m.GetCounter().GetValue())
			case m.Untyped != nil:
				found = append(found, m.GetUntyped().GetValue())
			}
		}
	}
	require.LessOrEqual(t, len(found), 1, "more than one series of %s matches %v", name, want)
	if len(found) == 0 {
		return 0, false
	}
	return found[0], true
}

// value is series that fails the test when there is no such series.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := series(t, mfs, name, want)
	require.True(t, ok, "no series %s%v", name, want)
	return v
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, lp := range m.GetLabel() {
		have[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// labels is a shorthand for a label set.
func labels(kv ...string) map[string]string {
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("labels: odd arguments %v", kv))
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
