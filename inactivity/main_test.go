package inactivity_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/pgtest"
)

// letheBin is the real binary, built once, for the tests that kill it.
var letheBin string

func TestMain(m *testing.M) {
	var err error
	if letheBin, err = letheproc.Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pgtest.Stop()
	letheproc.Cleanup()
	os.Exit(code)
}
