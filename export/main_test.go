package export

import (
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}
