package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/stretchr/testify/require"
)

// TestPolicySizeIsCapped: --policy /dev/zero used to grow to 23 GB.
func TestPolicySizeIsCapped(t *testing.T) {
	t.Parallel()
	env := []string{"LETHE_DATABASE_URL=postgres://x@127.0.0.1:1/x"}
	big := filepath.Join(t.TempDir(), "big.yaml")
	src := "subject: {table: users, key: id, requested_at: deleted_at, grace: 30d}\n" + strings.Repeat("# padding\n", 17<<20/10)
	require.NoError(t, os.WriteFile(big, []byte(src), 0o600))
	for _, p := range []string{big, "/dev/zero"} {
		r := lethe(t, env, "check", "--policy", p)
		require.Equal(t, 2, r.Code, p)
		require.Contains(t, r.Stderr, "policy "+p+": the file is larger than 16 MiB")
	}
}

// startBlocked starts lethe with args and env, returns it once ready says
// it is blocked, and the buffers of its output.
func startBlocked(t *testing.T, env []string, args ...string) (*exec.Cmd, *letheproc.Buffer) {
	t.Helper()
	cmd := exec.Command(letheBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	stderr := &letheproc.Buffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stderr
}

// waitExit waits for cmd to exit after a signal and returns its exit code.
// The minute is a bound for a hung process, not a measurement.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(time.Minute):
		t.Fatal("lethe ignored SIGTERM")
		return -1
	}
}

// blockedInFIFOOpen reports whether a thread of pid waits in the kernel
// for a FIFO's writer (the open of a FIFO for reading blocks there).
func blockedInFIFOOpen(pid int) bool {
	paths, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "wchan"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "wait_for_partner") {
			return true
		}
	}
	return false
}

// TestSignalStopsLetheOpeningAFIFOPolicy: a FIFO as the policy used to
// ignore two SIGTERMs: the open blocks until a writer comes.
func TestSignalStopsLetheOpeningAFIFOPolicy(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	cmd, stderr := startBlocked(t, []string{"LETHE_DATABASE_URL=postgres://x@127.0.0.1:1/x"}, "--job", "retention", "--policy", fifo)
	// Poll the kernel's state (not the clock) until lethe is inside the open.
	for !blockedInFIFOOpen(cmd.Process.Pid) {
		require.Nil(t, cmd.ProcessState, "lethe exited early: %s", stderr.String())
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 1, waitExit(t, cmd), stderr.String())
	require.Contains(t, stderr.String(), "stopped by a signal before the job started; nothing was changed")
}

// TestSignalStopsLetheReadingAFIFOPolicy: a writer that opens the FIFO and
// never writes leaves lethe in the read; one SIGTERM must stop it.
func TestSignalStopsLetheReadingAFIFOPolicy(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	cmd, stderr := startBlocked(t, []string{"LETHE_DATABASE_URL=postgres://x@127.0.0.1:1/x"}, "--job", "retention", "--policy", fifo)
	// Opening for writing blocks until lethe has opened it for reading.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 1, waitExit(t, cmd), stderr.String())
	require.Contains(t, stderr.String(), "stopped by a signal before the job started; nothing was changed")
}

// TestSignalStopsLetheConnecting: a server that accepts the connection
// and never answers holds lethe in connect; one SIGTERM must stop it.
func TestSignalStopsLetheConnecting(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	url := "postgres://lethe@" + ln.Addr().String() + "/app?sslmode=disable"
	cmd, stderr := startBlocked(t, []string{"LETHE_DATABASE_URL=" + url, "LETHE_POLICY=examples/policy.yaml"}, "--job", "retention")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() { <-ctx.Done(); ln.Close() }()
	conn, err := ln.Accept() // lethe is now inside connect
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 1, waitExit(t, cmd), stderr.String())
	require.Contains(t, stderr.String(), "stopped by a signal before the job started; nothing was changed")
}
