package main

import (
	"github.com/lethe-project/lethe/internal/pgtest"
)

// server is the benchmark's private PostgreSQL cluster, started the way
// the tests start theirs (pgtest), with the benchmark's settings.
type server struct {
	*pgtest.Server
	binDir string
	port   int
}

// startServer starts a cluster in a temporary directory. fsync is off
// unless durable, to spare the shared machine's disk; WAL volume is
// unchanged (full-page writes stay on), and with durable commits wait for
// their WAL to reach the disk, as in production.
func startServer(durable bool) (*server, error) {
	fsync := "fsync=off"
	if durable {
		fsync = "fsync=on"
	}
	srv, err := pgtest.NewServer([]string{fsync, "synchronous_commit=on", "full_page_writes=on",
		"shared_buffers=256MB", "max_wal_size=8GB", "checkpoint_timeout=1h", "autovacuum=off", "max_connections=50", "TimeZone=UTC"})
	if err != nil {
		return nil, err
	}
	return &server{Server: srv, binDir: srv.BinDirOf(), port: srv.Port}, nil
}

func (s *server) url(db string) string { return s.URLFor(db) }

func (s *server) stop() { s.Close() }
