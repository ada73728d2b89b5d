package inactivity_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
)

// letheBin is the real binary, built once, for the tests that kill it.
var letheBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lethe-bin-")
	if err != nil {
		panic(err)
	}
	letheBin = filepath.Join(dir, "lethe")
	out, err := exec.Command("go", "build", "-o", letheBin, "..").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build lethe: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	pgtest.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}
