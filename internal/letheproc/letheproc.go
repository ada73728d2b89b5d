// Package letheproc gives tests the real lethe binary, built once per test
// binary, for the tests that run it as users do and kill it with signals;
// and a buffer that collects a child process's output while the test reads
// it.
package letheproc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	once sync.Once
	dir  string
	path string
	err  error
)

// Binary returns the path of the lethe binary, building it on first use.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Build builds the lethe binary once per process and returns its path.
func Build() (string, error) {
	once.Do(func() {
		if dir, err = os.MkdirTemp("", "lethe-bin-"); err != nil {
			return
		}
		path = filepath.Join(dir, "lethe")
		out, berr := exec.Command("go", "build", "-o", path, "github.com/lethe-project/lethe").CombinedOutput()
		if berr != nil {
			err = fmt.Errorf("build lethe: %v\n%s", berr, out)
		}
	})
	return path, err
}

// BuildAt builds lethe as it was at git revision rev (e.g. main or
// HEAD~1) of the repository that holds dir, for a benchmark's baseline
// measured in the same run. It returns the binary's path and a function
// that removes it.
func BuildAt(dir, rev string) (string, func(), error) {
	tmp, err := os.MkdirTemp("", "lethe-rev-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	src := filepath.Join(tmp, "src")
	cmd := exec.Command("sh", "-c", `mkdir -p "$1" && git archive "$2" | tar -x -C "$1"`, "sh", src, rev)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("check out %s: %v: %s", rev, err, out)
	}
	bin := filepath.Join(tmp, "lethe")
	cmd = exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build lethe at %s: %v: %s", rev, err, out)
	}
	return bin, cleanup, nil
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// Buffer is an io.Writer safe to read while a child process writes it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Result is what one run of the binary did.
type Result struct {
	// Code is the exit code.
	Code int
	// Stdout and Stderr are the run's output.
	Stdout, Stderr string
}

// Run runs the binary with args and exactly env (nothing of the test's own
// environment leaks in), gives it three minutes, logs its output to the
// test and returns the result. It fails the test only when the binary
// cannot be run at all.
func Run(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = env
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("lethe %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, so.String(), se.String())
	return Result{code, so.String(), se.String()}
}

// Env returns the environment a test's lethe run needs besides its own
// settings: PATH (for pg tools) and a private HOME.
func Env(t testing.TB, settings ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, settings...)
}
