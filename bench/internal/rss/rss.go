// Package rss measures a benchmark's peak resident memory over one piece
// of work: Reset before it, Peak after it (Linux: /proc/self).
package rss

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Reset starts a new peak: after it, Peak reports the most memory held
// since this call. It is best effort (a kernel without clear_refs keeps the
// process's peak so far).
func Reset() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// Peak reads the peak resident set (VmHWM), in KiB.
func Peak() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
