package pgtest

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestWatchdogChild is the process TestWatchdogStopsTheClusterOfAKilledProcess
// kills: it starts a private cluster, says where, and waits to die.
func TestWatchdogChild(t *testing.T) {
	if os.Getenv("PGTEST_WATCHDOG_CHILD") == "" {
		t.Skip("run by TestWatchdogStopsTheClusterOfAKilledProcess")
	}
	syscall.CloseOnExec(3)
	watchdogFiles = []*os.File{os.NewFile(3, "watched")}
	s, err := NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("READY " + s.dataDir + " " + s.AdminURL + "\n")
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed
}

func TestWatchdogStopsTheClusterOfAKilledProcess(t *testing.T) {
	if _, err := BinDir(); err != nil {
		t.Skip(err)
	}
	// The child hands the watchdog the write end of this pipe: the read
	// below ends when the child and its watchdog have both exited.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdogChild$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_WATCHDOG_CHILD=1")
	cmd.ExtraFiles = []*os.File{w}
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	dataDir, url := readReady(t, stdout)
	t.Cleanup(func() { stopLeft(dataDir) })

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat(filepath.Dir(dataDir)); !os.IsNotExist(err) {
		t.Fatalf("the killed process's cluster directory %s is still there (stat: %v)", dataDir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if conn, err := pgx.Connect(ctx, url); err == nil {
		conn.Close(ctx)
		t.Fatal("the killed process's cluster still accepts connections")
	}
}

func readReady(t *testing.T, out io.Reader) (dataDir, url string) {
	t.Helper()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "READY" {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return f[1], f[2]
		}
	}
	t.Fatalf("the child exited before its cluster started: %v", sc.Err())
	return "", ""
}

// stopLeft stops a cluster the watchdog failed to stop, so a failing run
// leaks nothing either.
func stopLeft(dataDir string) {
	if _, err := os.Stat(dataDir); err != nil {
		return
	}
	bin, _ := BinDir()
	s := &Server{dataDir: dataDir, binDir: bin}
	if os.Geteuid() == 0 {
		s.runAs, _ = user.Lookup("postgres")
	}
	s.Close()
}
