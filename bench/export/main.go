// Command export benchmarks lethe export against the server's own limit,
// COPY (SELECT …) TO STDOUT of the same rows, on a private PostgreSQL
// cluster with the sample schema and one subject with many rows:
//
//	go run ./bench/export -rows 1000000
//
// It prints rows/s of each, their ratio, and the process's peak RSS during
// the export (VmHWM, reset before it starts).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lethe-project/lethe/bench/internal/benchdb"
	"github.com/lethe-project/lethe/bench/internal/rss"
	"github.com/lethe-project/lethe/export"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/subject"
)

const subjectKey = "6f1ed002-ab5d-42c0-a6d8-7a3c9b1f2e11"

// noFsync is -no-fsync: see benchdb.NoFsync.
var noFsync bool

func main() {
	rows := flag.Int("rows", 1_000_000, "rows of the subject in activity_log")
	runs := flag.Int("runs", 2, "runs of each")
	nf := benchdb.NoFsync()
	flag.Parse()
	noFsync = *nf
	if err := run(context.Background(), *rows, *runs); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, rows, runs int) error {
	srv, err := benchdb.Start(ctx, noFsync, "bench", "shared_buffers=256MB", "autovacuum=off", "TimeZone=UTC")
	if err != nil {
		return err
	}
	defer srv.Close()
	pool, err := pgxpool.New(ctx, srv.URLFor("bench"))
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := load(ctx, pool, rows); err != nil {
		return err
	}
	// The example's uploads directory, here an empty one of the bench's.
	uploads, err := os.MkdirTemp("", "lethe-export-bench-uploads-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(uploads)
	src, err := os.ReadFile("examples/policy.yaml")
	if err != nil {
		return err
	}
	pol, err := policy.Parse([]byte(strings.Replace(string(src), "file:///var/lib/app/uploads/", "file://"+uploads+"/", 1)), "examples/policy.yaml")
	if err != nil {
		return err
	}
	for k := range runs {
		copyRate, err := copyBaseline(ctx, pool)
		if err != nil {
			return err
		}
		n, elapsed, hwm, size, err := exportOnce(ctx, pool, pol)
		if err != nil {
			return err
		}
		rate := float64(n) / elapsed.Seconds()
		fmt.Printf("run %d: COPY %.0f rows/s; lethe export %d rows in %s, %.0f rows/s (%.2f× COPY), archive %d MiB, peak RSS %d MiB\n",
			k+1, copyRate, n, elapsed.Round(time.Millisecond), rate, rate/copyRate, size>>20, hwm>>10)
	}
	return nil
}

// load creates the sample schema and one subject with rows in activity_log
// (and a few in the other tables).
func load(ctx context.Context, pool *pgxpool.Pool, rows int) error {
	schema, err := os.ReadFile("examples/schema.sql")
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, string(schema)); err != nil {
		return err
	}
	start := time.Now()
	_, err = pool.Exec(ctx, fmt.Sprintf(`
		INSERT INTO users (id, email, name) VALUES ('%[1]s', 'big@example.com', 'Big');
		INSERT INTO sessions (user_id, ip) SELECT '%[1]s', '192.0.2.1' FROM generate_series(1, 10);
		INSERT INTO activity_log (user_id, action, created_at)
		SELECT '%[1]s', 'viewed page ' || i, now() - i * interval '1 second' FROM generate_series(1, %[2]d) i;
		ANALYZE;`, subjectKey, rows))
	fmt.Printf("loaded %d rows in %s\n", rows, time.Since(start).Round(time.Millisecond))
	return err
}

// copyBaseline is the server's own limit: COPY of the subject's rows to a
// client that throws them away.
func copyBaseline(ctx context.Context, pool *pgxpool.Pool) (float64, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	start := time.Now()
	tag, err := conn.Conn().PgConn().CopyTo(ctx, io.Discard,
		fmt.Sprintf("COPY (SELECT * FROM activity_log WHERE user_id = '%s') TO STDOUT", subjectKey))
	if err != nil {
		return 0, err
	}
	return float64(tag.RowsAffected()) / time.Since(start).Seconds(), nil
}

// exportOnce runs lethe export into a temporary file and returns the rows
// exported, the time, the peak RSS in KiB and the archive's size.
func exportOnce(ctx context.Context, pool *pgxpool.Pool, pol *policy.Policy) (int64, time.Duration, int64, int64, error) {
	dir, err := os.MkdirTemp("", "lethe-export-bench-")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "subject.zip")
	// Reset the peak RSS so that VmHWM is the export's.
	rss.Reset()
	j, err := export.New(export.Config{
		Deps:        jobs.Deps{Pool: pool, Policy: pol, Hasher: subject.NewHasher("bench"), Objects: &objstore.Router{File: filestore.Store{}}},
		Destination: export.Destination{Path: path},
	}, subjectKey)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	start := time.Now()
	r, err := (&jobs.Runner{Pool: pool}).Execute(ctx, j, jobs.Limits{})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	elapsed := time.Since(start)
	var n int64
	for _, rc := range r.RowCounts() {
		n += rc.Rows
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	hwm, err := rss.Peak()
	return n, elapsed, hwm, st.Size(), err
}
