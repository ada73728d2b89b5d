package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/lethe-project/lethe/internal/pgtest"
)

// server is the benchmark's private PostgreSQL cluster.
type server struct {
	binDir, base, dataDir string
	port                  int
	runAs                 *user.User
}

// startServer initdb's and starts a cluster in a temporary directory, as
// the postgres system user when run as root (initdb refuses root). With
// durable, commits wait for their WAL to reach the disk, as in production.
func startServer(durable bool) (*server, error) {
	binDir, err := pgtest.BinDir()
	if err != nil {
		return nil, err
	}
	s := &server{binDir: binDir}
	if s.base, err = os.MkdirTemp("", "lethe-bench-"); err != nil {
		return nil, err
	}
	s.dataDir = filepath.Join(s.base, "data")
	if os.Geteuid() == 0 {
		if s.runAs, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root needs a 'postgres' system user: %w", err)
		}
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		if err := os.Chown(s.base, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := s.command("initdb", "-D", s.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	// fsync off spares the shared machine's disk; WAL volume is unchanged.
	fsync := "fsync=off"
	if durable {
		fsync = "fsync=on"
	}
	opts := []string{"-p", strconv.Itoa(s.port), "-k", s.base, "-c", "listen_addresses=127.0.0.1",
		"-c", fsync, "-c", "shared_buffers=256MB", "-c", "max_wal_size=8GB", "-c", "autovacuum=off",
		"-c", "max_connections=50", "-c", "shared_preload_libraries=", "-c", "TimeZone=UTC"}
	logFile := filepath.Join(s.base, "server.log")
	if out, err := s.command("pg_ctl", "-D", s.dataDir, "-l", logFile, "-w", "-t", "60", "-o", strings.Join(opts, " "), "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	return s, nil
}

func (s *server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.binDir, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		cmd.Dir = os.TempDir()
	}
	return cmd
}

func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *server) stop() {
	_ = s.command("pg_ctl", "-D", s.dataDir, "-m", "fast", "stop").Run()
	_ = os.RemoveAll(s.base)
}
