package main

import (
	"github.com/lethe-project/lethe/bench/internal/benchdb"
	"github.com/lethe-project/lethe/internal/pgtest"
)

// server is the benchmark's private PostgreSQL cluster, started the way
// the tests start theirs (pgtest), with the benchmark's settings.
type server struct {
	*pgtest.Server
	binDir string
	port   int
}

// startServer starts a cluster in a temporary directory with durable
// settings (fsync, full-page writes, synchronous commit), as in production,
// unless noFsync (see benchdb.NoFsync).
func startServer(noFsync bool) (*server, error) {
	srv, err := pgtest.NewServer(benchdb.Settings(noFsync,
		"shared_buffers=256MB", "max_wal_size=8GB", "checkpoint_timeout=1h", "autovacuum=off", "max_connections=50", "TimeZone=UTC"))
	if err != nil {
		return nil, err
	}
	return &server{Server: srv, binDir: srv.BinDirOf(), port: srv.Port}, nil
}

func (s *server) url(db string) string { return s.URLFor(db) }

func (s *server) stop() { s.Close() }
