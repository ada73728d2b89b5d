// Package pgtest gives tests a real PostgreSQL database of their own.
//
// The first call in a test binary starts a private cluster (initdb in a
// temporary directory, listening on a Unix socket and a free loopback port)
// unless TEST_DATABASE_URL points at an existing server. Each test then gets a
// fresh database cloned with CREATE DATABASE ... TEMPLATE from a template that
// is built once per schema, the way pgtestdb does it.
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Server is a running PostgreSQL server that tests can create databases on.
type Server struct {
	// AdminURL connects to the maintenance database as a superuser.
	AdminURL string
	// Port is the TCP port the server listens on.
	Port int

	mu        sync.Mutex
	templates map[string]string
	counter   int
	dataDir   string
	binDir    string
	runAs     *user.User
	startArgs []string // pg_ctl start's arguments, for Restart
	settings  []string // NewServer's extra settings, which a standby repeats
	dog       *watchdog
}

var (
	startOnce sync.Once
	shared    *Server
	startErr  error
)

// Start returns the server shared by every test of this binary, starting it
// on first use. It skips the test when no PostgreSQL server binaries can be
// found and LETHE_REQUIRE_TOOLS is unset.
func Start(t testing.TB) *Server {
	t.Helper()
	startOnce.Do(func() { shared, startErr = start() })
	if startErr != nil {
		if errors.Is(startErr, errNoBinaries) && os.Getenv("LETHE_REQUIRE_TOOLS") == "" {
			t.Skipf("pgtest: %v (install Debian's postgresql package or set TEST_DATABASE_URL)", startErr)
		}
		t.Fatalf("pgtest: %v", startErr)
	}
	return shared
}

var errNoBinaries = errors.New("no PostgreSQL server binaries found")

// BinDir finds the directory that holds initdb and postgres.
func BinDir() (string, error) {
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real), nil
			}
		}
		return "", errNoBinaries
	}
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func versionOf(path string) int {
	parts := strings.Split(path, "/")
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	return 0
}

func start() (*Server, error) {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return &Server{AdminURL: u, templates: map[string]string{}}, nil
	}
	return NewServer(nil)
}

// NewServer starts a private cluster outside of tests (benchmarks), with
// extra server settings ("name=value"). Stop it with Close.
func NewServer(settings []string) (*Server, error) {
	binDir, err := BinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{binDir: binDir, templates: map[string]string{}, settings: settings}
	base, err := os.MkdirTemp("", "lethe-pg-")
	if err != nil {
		return nil, err
	}
	s.dataDir = filepath.Join(base, "data")
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: run the cluster as the postgres
		// system user that Debian's package creates.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a 'postgres' system user: %w", err)
		}
		s.runAs = u
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			return nil, err
		}
	}
	out, err := s.command(filepath.Join(binDir, "initdb"), "-D", s.dataDir, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Port = port
	s.startArgs = []string{"-D", s.dataDir, "-l", filepath.Join(base, "server.log"), "-w", "-t", "60",
		"-o", strings.Join([]string{
			"-p", strconv.Itoa(port), "-k", base, "-c", "listen_addresses=127.0.0.1",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200", "-c", "shared_buffers=128MB",
			"-c", "max_locks_per_transaction=256",
		}, " ") + settingsFlags(settings), "start"}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	s.AdminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return s, nil
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	// Keep the server alive across the test's process group signals but
	// let it die with the machine; tests stop it through Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		cmd.Dir = os.TempDir()
	}
	return cmd
}

func settingsFlags(settings []string) string {
	var b strings.Builder
	for _, s := range settings {
		b.WriteString(" -c " + s)
	}
	return b.String()
}

// Stop shuts the shared private cluster down. Call it from TestMain after
// m.Run.
func Stop() {
	if shared != nil {
		shared.Close()
	}
}

// Close stops a private cluster and removes its files.
func (s *Server) Close() {
	if s.dataDir == "" {
		return
	}
	_ = s.command(filepath.Join(s.binDir, "pg_ctl"), "-D", s.dataDir, "-m", "immediate", "stop").Run()
	_ = os.RemoveAll(filepath.Dir(s.dataDir))
	s.release()
	s.dataDir = ""
}

// BinDirOf returns the directory of the server's binaries (pgbench, psql).
func (s *Server) BinDirOf() string { return s.binDir }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URLFor returns the connection URL of the named database on this server.
func (s *Server) URLFor(db string) string {
	u, err := url.Parse(s.AdminURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + db
	return u.String()
}

// template returns the name of a template database holding schema, building
// it on first use.
func (s *Server) template(ctx context.Context, schema string) (string, error) {
	sum := sha256.Sum256([]byte(schema))
	name := "tmpl_" + hex.EncodeToString(sum[:8])
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.templates[name]; ok {
		return name, nil
	}
	admin, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		return "", err
	}
	defer admin.Close(ctx)
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		build := name + "_build"
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{build}.Sanitize())
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{build}.Sanitize()); err != nil {
			return "", err
		}
		conn, err := pgx.Connect(ctx, s.URLFor(build))
		if err != nil {
			return "", err
		}
		_, err = conn.Exec(ctx, schema)
		conn.Close(ctx)
		if err != nil {
			return "", fmt.Errorf("load schema: %w", err)
		}
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{build}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	s.templates[name] = name
	return name, nil
}

// DB is one test's database.
type DB struct {
	// Name is the database name.
	Name string
	// URL connects to it.
	URL string
	// Pool is a connection pool on it, closed when the test ends.
	Pool *pgxpool.Pool
}

// Clone returns a new database for this test that is a copy of db, data
// included. db's pool connections are closed first (CREATE DATABASE ...
// TEMPLATE needs the source idle) and reopen on next use.
func (db *DB) Clone(t testing.TB) *DB {
	t.Helper()
	db.Pool.Reset()
	return newDB(t, db.Name)
}

// NewDB creates a database for this test from schema (SQL run once into a
// template) and drops it when the test ends.
func NewDB(t testing.TB, schema string) *DB {
	t.Helper()
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl, err := s.template(ctx, schema)
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	return s.newDB(t, tmpl)
}

// NewDB creates a database on this server (a private cluster from
// NewServer, say) for this test from schema, as the package's NewDB does
// on the shared one.
func (s *Server) NewDB(t testing.TB, schema string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl, err := s.template(ctx, schema)
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	return s.newDB(t, tmpl)
}

func newDB(t testing.TB, tmpl string) *DB {
	t.Helper()
	return Start(t).newDB(t, tmpl)
}

func (s *Server) newDB(t testing.TB, tmpl string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s.mu.Lock()
	s.counter++
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), s.counter)
	s.mu.Unlock()
	admin, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close(ctx)
	// CREATE DATABASE ... TEMPLATE fails while another session is connected
	// to the template; templates are never connected to after building.
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	db := &DB{Name: name, URL: s.URLFor(name)}
	pool, err := pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db.Pool = pool
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin, err := pgx.Connect(ctx, s.AdminURL)
		if err != nil {
			return
		}
		defer admin.Close(ctx)
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return db
}

// Exec runs SQL on the test database and fails the test on error.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", firstLine(sql), err)
	}
}

// Int runs a query that returns one integer.
func (db *DB) Int(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("pgtest: %s: %v", firstLine(sql), err)
	}
	return n
}

// Snapshot returns every row of every table in the given schemas as text,
// ordered, so that two snapshots can be compared for equality.
func (db *DB) Snapshot(t testing.TB, schemas ...string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r','p') AND n.nspname = ANY($1) ORDER BY 1`, schemas)
	if err != nil {
		t.Fatalf("pgtest: snapshot: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("pgtest: snapshot: %v", err)
	}
	out := map[string][]string{}
	for _, tbl := range tables {
		rows, err := db.Pool.Query(ctx, "SELECT t::text FROM "+tbl+" t ORDER BY 1")
		if err != nil {
			t.Fatalf("pgtest: snapshot %s: %v", tbl, err)
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("pgtest: snapshot %s: %v", tbl, err)
		}
		out[tbl] = vals
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
