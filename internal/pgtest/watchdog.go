package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
)

// watchdogFiles are extra files handed to every watchdog, for the test that
// watches a watchdog finish (it holds a pipe's write end open until then).
var watchdogFiles []*os.File

// watchdog stops a private cluster when the process that started it dies,
// however it dies: a test binary killed by go test's -timeout, a panic that
// skips TestMain's Stop, or SIGKILL. Without it every such death left a
// PostgreSQL cluster running on the machine until it rebooted.
//
// It is a shell that reads from a pipe whose only writer is this process:
// the kernel closes the write end when the process exits, the read ends, and
// the shell stops the cluster and removes its files. Nothing polls.
type watchdog struct {
	w   *os.File // held, never written; closing it (or dying) fires the watchdog
	cmd *exec.Cmd
}

const watchdogScript = `read -r _; "$1" -D "$2" -m immediate -w stop >/dev/null 2>&1; rm -rf "$3"`

// watch starts the cluster's watchdog once; Restart calls it after each start.
func (s *Server) watch() error {
	if s.dog != nil {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := s.command("/bin/sh", "-c", watchdogScript, "pgtest-watchdog",
		filepath.Join(s.binDir, "pg_ctl"), s.dataDir, filepath.Dir(s.dataDir))
	cmd.Stdin = r
	cmd.ExtraFiles = watchdogFiles
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return err
	}
	r.Close() // the shell holds its own copy
	s.dog = &watchdog{w: w, cmd: cmd}
	return nil
}

// release lets the watchdog go after Close has stopped the cluster itself.
func (s *Server) release() {
	if s.dog == nil {
		return
	}
	s.dog.w.Close()
	_ = s.dog.cmd.Wait()
	s.dog = nil
}
