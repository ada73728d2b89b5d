package jobs_test

import (
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
)

// TestMain stops the private PostgreSQL cluster the tests started: without
// it every run of this package left one running.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}
