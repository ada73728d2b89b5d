package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/stretchr/testify/require"
)

// TestScheduleRunsJobsAndServesMetrics runs lethe schedule with a
// seconds-granularity purge schedule, waits for a run to show in /metrics,
// then stops it with SIGTERM.
func TestScheduleRunsJobsAndServesMetrics(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 200)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(letheBin, "schedule")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LETHE_SCHEDULE=purge=*/1 * * * * *",
		"LETHE_SCHEDULE_SECONDS=true", "LETHE_SCHEDULE_LISTEN=" + addr}, env...)
	var stderr letheproc.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()

	// Poll for the external process's first run: a generous bound on a
	// wait, not an assertion on speed.
	var body string
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if strings.Contains(body, `lethe_job_last_success_timestamp_seconds{lethe_job="purge"}`) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Contains(t, body, `lethe_job_last_success_timestamp_seconds{lethe_job="purge"}`, stderr.String())
	require.Contains(t, body, `lethe_job_subjects{lethe_job="purge",state="done"}`)
	require.Zero(t, db.Int(t, `SELECT count(*) FROM users WHERE deleted_at < now() - interval '30 days' AND NOT legal_hold`))
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	resp.Body.Close()

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "SIGTERM ends lethe schedule cleanly: %s", stderr.String())
	case <-time.After(time.Minute):
		t.Fatal("lethe schedule did not stop on SIGTERM")
	}

	r := lethe(t, append(env, "LETHE_SCHEDULE=purge=not a spec"), "schedule")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "purge")
}
