package benchdb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/internal/pgtest"
)

// Start starts a benchmark's private server with Settings(noFsync,
// extra...) and creates the database db on it; the caller closes the
// server.
func Start(ctx context.Context, noFsync bool, db string, extra ...string) (*pgtest.Server, error) {
	srv, err := pgtest.NewServer(Settings(noFsync, extra...))
	if err != nil {
		return nil, err
	}
	admin, err := pgx.Connect(ctx, srv.URLFor("postgres"))
	if err != nil {
		srv.Close()
		return nil, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		srv.Close()
		return nil, fmt.Errorf("create database %s: %w", db, err)
	}
	return srv, nil
}
