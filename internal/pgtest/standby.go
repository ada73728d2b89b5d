package pgtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// NewStandby starts a streaming replica of this private cluster: a
// pg_basebackup -R of it, started as a second server on a free loopback
// port with the primary's extra settings and then these ("name=value"). Its AdminURL connects to it
// (read only); stop it with Close.
func (s *Server) NewStandby(settings []string) (*Server, error) {
	if s.dataDir == "" {
		return nil, errors.New("pgtest: only a private cluster can have a standby")
	}
	base, err := os.MkdirTemp("", "lethe-pg-standby-")
	if err != nil {
		return nil, err
	}
	st := &Server{binDir: s.binDir, runAs: s.runAs, templates: map[string]string{}}
	st.dataDir = filepath.Join(base, "data")
	if s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			return nil, err
		}
	}
	out, err := st.command(filepath.Join(s.binDir, "pg_basebackup"), "-D", st.dataDir, "-R", "-X", "stream",
		"-c", "fast", "-d", s.AdminURL).CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(base)
		return nil, fmt.Errorf("pg_basebackup: %v: %s", err, out)
	}
	if st.Port, err = freePort(); err != nil {
		return nil, err
	}
	st.startArgs = []string{"-D", st.dataDir, "-l", filepath.Join(base, "server.log"), "-w", "-t", "60",
		"-o", strings.Join([]string{"-p", strconv.Itoa(st.Port), "-k", base, "-c", "listen_addresses=127.0.0.1",
			"-c", "max_connections=200", "-c", "max_locks_per_transaction=256", "-c", "hot_standby=on"}, " ") +
			settingsFlags(append(append([]string{}, s.settings...), settings...)), "start"}
	if err := st.Restart(); err != nil {
		_ = os.RemoveAll(base)
		return nil, err
	}
	st.AdminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", st.Port)
	return st, nil
}

// Private reports whether s is a cluster this process started (and so can
// crash, restart, or give a standby).
func (s *Server) Private() bool { return s.dataDir != "" }
