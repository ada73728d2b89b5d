package jobtest

import (
	"io"
	"log/slog"
	"testing"

	"github.com/lethe-project/lethe/internal/letheproc"
)

// Logs is what a logger from CaptureLogger wrote, kept for assertions. It
// is safe for concurrent use.
type Logs = letheproc.Buffer

// CaptureLogger returns a debug logger that writes to the test's output,
// as Logger does, and into the returned Logs.
func CaptureLogger(t testing.TB) (*slog.Logger, *Logs) {
	l := &Logs{}
	h := slog.NewTextHandler(io.MultiWriter(t.Output(), l), &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h), l
}
