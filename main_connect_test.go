package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// TestConnectErrorsExitCodes: a wrong password or a missing database is
// configuration (exit 2: retrying cannot help); a refused connection is
// transient (exit 1). Both used to exit 1. The server is a private cluster
// whose pg_hba.conf asks for passwords, so the failure is PostgreSQL's own.
func TestConnectErrorsExitCodes(t *testing.T) {
	t.Parallel()
	pgtest.Start(t) // skips as every database test does when PostgreSQL is absent
	dir, err := os.MkdirTemp("", "lethe-hba-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755)) // the server may run as the postgres user
	hba := filepath.Join(dir, "pg_hba.conf")
	require.NoError(t, os.WriteFile(hba, []byte(
		"local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"), 0o644))
	srv, err := pgtest.NewServer([]string{"hba_file=" + hba})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	admin, err := pgx.Connect(context.Background(), srv.AdminURL)
	require.NoError(t, err)
	_, err = admin.Exec(context.Background(), `CREATE ROLE lethe_app LOGIN PASSWORD 'right-password'`)
	require.NoError(t, err)
	admin.Close(context.Background())

	good := strings.Replace(srv.URLFor("postgres"), "postgres@", "lethe_app:right-password@", 1)
	wrong := strings.Replace(good, "right-password", "wrong-password", 1)
	missing := strings.Replace(srv.URLFor("no_such_db"), "postgres@", "lethe_app:right-password@", 1)
	for _, c := range []struct {
		name, url string
		code      int
		want      string
	}{
		{"wrong password", wrong, 2, "28P01"},
		{"missing database", missing, 2, "3D000"},
		{"connection refused", "postgres://lethe_app:right-password@127.0.0.1:1/postgres?sslmode=disable", 1, "connection refused"},
	} {
		r := lethe(t, []string{"LETHE_DATABASE_URL=" + c.url, "LETHE_POLICY=examples/policy.yaml"}, "check")
		require.Equal(t, c.code, r.Code, c.name)
		require.Contains(t, r.Stderr, c.want, c.name)
		require.NotContains(t, r.Stderr, "password@", c.name)
	}
}
