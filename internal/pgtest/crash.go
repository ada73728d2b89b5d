package pgtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Restart starts a private cluster that Crash stopped (NewServer starts it
// the first time), and waits until it accepts connections, crash recovery
// done.
func (s *Server) Restart() error {
	if s.dataDir == "" {
		return errors.New("pgtest: only a private cluster can be restarted")
	}
	if out, err := s.command(filepath.Join(s.binDir, "pg_ctl"), s.startArgs...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(s.dataDir), "server.log"))
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	return s.watch()
}

// Crash stops a private cluster with pg_ctl stop -m immediate: every
// session ends at once and nothing is flushed, as in a power cut; the next
// start recovers from the WAL.
func (s *Server) Crash() error {
	if s.dataDir == "" {
		return errors.New("pgtest: only a private cluster can be crashed")
	}
	if out, err := s.command(filepath.Join(s.binDir, "pg_ctl"), "-D", s.dataDir, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %v: %s", err, out)
	}
	return nil
}
