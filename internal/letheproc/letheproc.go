// Package letheproc gives tests the real lethe binary, built once per test
// binary, for the tests that run it as users do and kill it with signals;
// and a buffer that collects a child process's output while the test reads
// it.
package letheproc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
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
