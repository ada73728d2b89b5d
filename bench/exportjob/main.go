// Command exportjob benchmarks lethe --job export: pending access requests
// of ordinary subjects (tens of rows each) served into a real MinIO bucket
// with a notice each to a local webhook, on a private PostgreSQL cluster:
//
//	go run ./bench/exportjob -requests 1000
//
// It prints subjects/s of the job and of the baseline measured in the same
// run, the plain loop of single-subject exports (lethe export --subject
// KEY --out s3://…, one after the other, without notices or the outbox),
// their ratio, and the process's peak RSS during the job (VmHWM, reset
// before it starts).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lethe-project/lethe/bench/internal/benchdb"
	"github.com/lethe-project/lethe/bench/internal/rss"
	"github.com/lethe-project/lethe/export"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/subject"
)

// noFsync is -no-fsync: see benchdb.NoFsync.
var noFsync bool

func main() {
	requests := flag.Int("requests", 1000, "pending access requests")
	baseline := flag.Int("baseline", 200, "subjects exported one by one for the baseline")
	workers := flag.Int("workers", 2, "LETHE_WORKERS: the pool has two more connections, as lethe's")
	nf := benchdb.NoFsync()
	flag.Parse()
	noFsync = *nf
	if err := run(context.Background(), *requests, *baseline, *workers); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

type world struct {
	pool   *pgxpool.Pool
	pol    *policy.Policy
	client *s3.Client
	store  *objstore.Router
	hook   *httptest.Server
	hits   atomic.Int64
}

func run(ctx context.Context, requests, baseline, workers int) error {
	w, cleanup, err := setup(ctx, requests, workers)
	if err != nil {
		return err
	}
	defer cleanup()

	keys, err := w.keys(ctx, baseline)
	if err != nil {
		return err
	}
	start := time.Now()
	for _, k := range keys {
		j, err := export.New(export.Config{Deps: jobs.Deps{Pool: w.pool, Policy: w.pol, Hasher: subject.NewHasher("bench"), Objects: w.store},
			Destination: export.Destination{Path: "s3://exports/one-by-one/", S3: w.client}}, k)
		if err != nil {
			return err
		}
		if _, err := (&jobs.Runner{Pool: w.pool}).Execute(ctx, j, jobs.Limits{}); err != nil {
			return err
		}
	}
	base := float64(len(keys)) / time.Since(start).Seconds()
	fmt.Printf("baseline: %d single-subject exports one after the other: %.1f subjects/s\n", len(keys), base)

	rss.Reset()
	j, err := export.NewRequestJob(export.RequestConfig{
		Config: export.Config{Deps: jobs.Deps{Pool: w.pool, Policy: w.pol, Hasher: subject.NewHasher("bench"), Objects: w.store, Env: env}},
		S3:     w.client,
	})
	if err != nil {
		return err
	}
	start = time.Now()
	r, err := (&jobs.Runner{Pool: w.pool}).Execute(ctx, j, jobs.Limits{})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	hwm, err := rss.Peak()
	if err != nil {
		return err
	}
	done := r.Counter(export.RequestsDone)
	rate := float64(done) / elapsed.Seconds()
	fmt.Printf("export job: %d requests done (%d archives, %d notices) in %s: %.1f subjects/s (%.2f× the baseline), peak RSS %d MiB\n",
		done, r.Counter(jobs.ArchivesWritten), w.hits.Load(), elapsed.Round(time.Millisecond), rate, rate/base, hwm>>10)
	if done != int64(requests) {
		return fmt.Errorf("%d of %d requests done", done, requests)
	}
	return nil
}

func env(n string) (string, bool) { return "bench-secret", n == "BENCH_HOOK_SECRET" }

// setup starts PostgreSQL, MinIO and the webhook, and loads the subjects:
// each with 10 sessions and 20 activity rows, every one with a request.
func setup(ctx context.Context, requests, workers int) (*world, func(), error) {
	w := &world{}
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (*world, func(), error) { cleanup(); return nil, nil, err }
	srv, err := benchdb.Start(ctx, noFsync, "bench", "shared_buffers=256MB", "autovacuum=off", "TimeZone=UTC")
	if err != nil {
		return fail(err)
	}
	closers = append(closers, srv.Close)
	pc, err := pgxpool.ParseConfig(srv.URLFor("bench"))
	if err != nil {
		return fail(err)
	}
	pc.MaxConns = int32(workers + 2) // as lethe sizes its pool
	if w.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return fail(err)
	}
	closers = append(closers, w.pool.Close)
	mio, err := miniotest.NewServer()
	if err != nil {
		return fail(err)
	}
	closers = append(closers, mio.Close)
	w.client = mio.Client()
	if _, err := w.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("exports")}); err != nil {
		return fail(err)
	}
	w.store = &objstore.Router{S3: s3store.NewWithClient(w.client), File: filestore.Store{}}
	w.hook = httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { w.hits.Add(1) }))
	closers = append(closers, w.hook.Close)
	uploads, err := os.MkdirTemp("", "lethe-exportjob-bench-")
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { os.RemoveAll(uploads) })
	src, err := os.ReadFile("examples/policy.yaml")
	if err != nil {
		return fail(err)
	}
	pol := strings.Replace(string(src), "file:///var/lib/app/uploads/", "file://"+uploads+"/", 1) + fmt.Sprintf(`
export:
  request: {column: export_requested_at}
  to: "s3://exports/archives/"
  expire: 7d
  notify:
    webhook: {url: %q, secret_env: BENCH_HOOK_SECRET}
`, w.hook.URL)
	if w.pol, err = policy.Parse([]byte(pol), "bench-policy.yaml"); err != nil {
		return fail(err)
	}
	if err := load(ctx, w.pool, requests); err != nil {
		return fail(err)
	}
	return w, cleanup, nil
}

func load(ctx context.Context, pool *pgxpool.Pool, n int) error {
	schema, err := os.ReadFile("examples/schema.sql")
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, string(schema)); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, fmt.Sprintf(`
		ALTER TABLE users ADD COLUMN export_requested_at timestamptz;
		INSERT INTO users (id, email, name, export_requested_at)
		SELECT md5('u' || i)::uuid, 'u' || i || '@example.com', 'User ' || i, now() - i * interval '1 second'
		FROM generate_series(1, %[1]d) i;
		INSERT INTO sessions (user_id, ip) SELECT id, '192.0.2.1' FROM users, generate_series(1, 10);
		INSERT INTO activity_log (user_id, action, created_at)
		SELECT id, 'viewed page ' || g, now() - g * interval '1 minute' FROM users, generate_series(1, 20) g;
		ANALYZE;`, n))
	return err
}

// keys returns n subjects' keys for the baseline.
func (w *world) keys(ctx context.Context, n int) ([]string, error) {
	rows, err := w.pool.Query(ctx, "SELECT id::text FROM users ORDER BY id LIMIT $1", n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
