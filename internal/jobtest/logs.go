package jobtest

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"
)

// Logs is what a logger from CaptureLogger wrote, kept for assertions. It
// is safe for concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// CaptureLogger returns a debug logger that writes to the test's output,
// as Logger does, and into the returned Logs.
func CaptureLogger(t testing.TB) (*slog.Logger, *Logs) {
	l := &Logs{}
	h := slog.NewTextHandler(io.MultiWriter(t.Output(), l), &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h), l
}
