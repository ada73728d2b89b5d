package pgtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// BaseBackup takes a base backup of the private cluster s with
// pg_basebackup (the WAL it needs streamed along) and returns it as a
// cluster of its own, on another port, not started: Restart starts it, as
// a restore of that backup would. Close removes it.
func (s *Server) BaseBackup() (*Server, error) {
	if s.dataDir == "" {
		return nil, fmt.Errorf("pgtest: BaseBackup needs a private cluster")
	}
	base, err := os.MkdirTemp("", "lethe-pg-backup-")
	if err != nil {
		return nil, err
	}
	if s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			return nil, err
		}
	}
	b := &Server{binDir: s.binDir, runAs: s.runAs, templates: map[string]string{}, dataDir: filepath.Join(base, "data")}
	out, err := b.command(filepath.Join(s.binDir, "pg_basebackup"), "-D", b.dataDir, "-d", s.AdminURL,
		"-X", "stream", "-c", "fast", "--no-sync").CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(base)
		return nil, fmt.Errorf("pg_basebackup: %v: %s", err, out)
	}
	if b.Port, err = freePort(); err != nil {
		return nil, err
	}
	oldBase := filepath.Dir(s.dataDir)
	for _, a := range s.startArgs {
		switch {
		case a == s.dataDir:
			a = b.dataDir
		case strings.HasPrefix(a, oldBase):
			a = base + strings.TrimPrefix(a, oldBase)
		case strings.Contains(a, "-p "+strconv.Itoa(s.Port)+" "):
			a = strings.Replace(a, "-p "+strconv.Itoa(s.Port)+" ", "-p "+strconv.Itoa(b.Port)+" ", 1)
			a = strings.Replace(a, "-k "+oldBase+" ", "-k "+base+" ", 1)
		}
		b.startArgs = append(b.startArgs, a)
	}
	b.AdminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", b.Port)
	return b, nil
}
