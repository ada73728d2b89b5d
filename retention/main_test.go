package retention_test

import (
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	letheproc.Cleanup()
	os.Exit(code)
}
