package purge_test

import (
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := miniotest.Run(m)
	pgtest.Stop()
	os.Exit(code)
}
