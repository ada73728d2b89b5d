// Command replay benchmarks lethe replay on a private PostgreSQL cluster:
// a subject table of -subjects rows (one session each) of which -erased
// asked for deletion. The purge erases them with the journal on, which
// measures the purge's rate; a copy of the database taken before the purge
// plays the restored backup, and lethe replay finds them again (keys/s
// hashed and compared) and erases them (subjects/s, against the purge's).
// A second replay, with nothing left to find, is the cost of running it
// when nothing was restored.
//
//	go run ./bench/replay -subjects 1000000 -erased 100000
//
// Peak RSS is the process's VmHWM during each replay (reset before it).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lethe-project/lethe/bench/internal/benchdb"
	"github.com/lethe-project/lethe/bench/internal/rss"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/journal"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/replay"
	"github.com/lethe-project/lethe/subject"
)

const hashKey = "bench-key"

// noFsync is -no-fsync: see benchdb.NoFsync.
var noFsync bool

func main() {
	subjects := flag.Int("subjects", 1_000_000, "rows of the subject table")
	erased := flag.Int("erased", 100_000, "subjects erased, then restored, then replayed")
	nf := benchdb.NoFsync()
	flag.Parse()
	noFsync = *nf
	if err := run(context.Background(), *subjects, *erased); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, subjects, erased int) error {
	srv, err := benchdb.Start(ctx, noFsync, "live", "shared_buffers=256MB", "autovacuum=off", "TimeZone=UTC")
	if err != nil {
		return err
	}
	defer srv.Close()
	admin, err := pgx.Connect(ctx, srv.URLFor("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	live, err := pgxpool.New(ctx, srv.URLFor("live"))
	if err != nil {
		return err
	}
	if err := load(ctx, live, subjects, erased); err != nil {
		return err
	}
	live.Close() // CREATE DATABASE ... TEMPLATE needs it idle
	if _, err := admin.Exec(ctx, "CREATE DATABASE restored TEMPLATE live"); err != nil {
		return err
	}
	if live, err = pgxpool.New(ctx, srv.URLFor("live")); err != nil {
		return err
	}
	defer live.Close()
	restored, err := pgxpool.New(ctx, srv.URLFor("restored"))
	if err != nil {
		return err
	}
	defer restored.Close()

	pol, err := policy.Parse([]byte(benchPolicy), "bench.yaml")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lethe-replay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	jn, err := journal.Open(ctx, "file://"+dir, nil)
	if err != nil {
		return err
	}
	purgeRate, err := purgeOnce(ctx, live, pol, jn)
	if err != nil {
		return err
	}
	for _, pass := range []string{"after the restore", "again, nothing to find"} {
		r, elapsed, hwm, err := replayOnce(ctx, restored, pol, jn)
		if err != nil {
			return err
		}
		find := time.Duration(r.Counter(replay.FindMS)) * time.Millisecond
		scanned, done := r.Counter(replay.SubjectsScanned), r.Counter(jobs.SubjectsDone)
		fmt.Printf("replay %s: %d journal entries, %d keys hashed and compared in %s (%.0f keys/s), %d found",
			pass, r.Counter(replay.JournalEntries), scanned, find.Round(time.Millisecond), float64(scanned)/find.Seconds(), r.Counter(replay.SubjectsFound))
		if done > 0 {
			rate := float64(done) / (elapsed - find).Seconds()
			fmt.Printf(", %d erased at %.0f subjects/s (%.2f× the purge's %.0f/s)", done, rate, rate/purgeRate, purgeRate)
		}
		fmt.Printf("; peak RSS %d MiB\n", hwm>>10)
	}
	return nil
}

const benchPolicy = `subject:
  table: users
  key: id
  requested_at: deleted_at
  grace: 30d
  hold: legal_hold
  final: delete
tables:
  - table: sessions
    match: user_id
    action: delete
`

// load creates users and one session each; every (subjects/erased)th
// user asked for deletion 45 days ago.
func load(ctx context.Context, pool *pgxpool.Pool, subjects, erased int) error {
	start := time.Now()
	_, err := pool.Exec(ctx, fmt.Sprintf(`
		CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL, deleted_at timestamptz, legal_hold boolean NOT NULL DEFAULT false);
		CREATE TABLE sessions (id bigserial PRIMARY KEY, user_id uuid NOT NULL REFERENCES users (id), ip inet);
		CREATE INDEX ON sessions (user_id);
		INSERT INTO users (id, email, deleted_at)
		SELECT md5('user' || i)::uuid, 'user' || i || '@example.com',
		       CASE WHEN i %% %[2]d = 0 THEN now() - interval '45 days' END
		FROM generate_series(1, %[1]d) i;
		INSERT INTO sessions (user_id, ip) SELECT id, '192.0.2.1' FROM users;
		ANALYZE;`, subjects, max(subjects/erased, 1)))
	fmt.Printf("loaded %d subjects, %d to erase, in %s\n", subjects, erased, time.Since(start).Round(time.Millisecond))
	return err
}

// purgeOnce erases the due subjects with the journal on and returns the
// purge's rate in subjects/s.
func purgeOnce(ctx context.Context, pool *pgxpool.Pool, pol *policy.Policy, jn *journal.Journal) (float64, error) {
	j, err := purge.New(purge.Config{Deps: jobs.Deps{Pool: pool, Policy: pol, Hasher: subject.NewHasher(hashKey)},
		Journal: &journal.Outbox{Pool: pool, Journal: jn}})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	r, err := runner(pool).Execute(ctx, j, jobs.Limits{AllowLarge: true, TimeBudget: time.Hour})
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	n := r.Counter(jobs.SubjectsDone)
	fmt.Printf("purge: %d subjects erased and journaled in %s (%.0f subjects/s)\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	return float64(n) / elapsed.Seconds(), nil
}

// replayOnce runs lethe replay and returns its report, its time and the
// peak RSS in KiB during it.
func replayOnce(ctx context.Context, pool *pgxpool.Pool, pol *policy.Policy, jn *journal.Journal) (*jobs.Report, time.Duration, int64, error) {
	j, err := replay.New(replay.Config{Purge: purge.Config{Deps: jobs.Deps{Pool: pool, Policy: pol, Hasher: subject.NewHasher(hashKey),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}}, Journal: jn})
	if err != nil {
		return nil, 0, 0, err
	}
	debug.FreeOSMemory()
	// Reset the peak RSS so that VmHWM is the replay's.
	rss.Reset()
	start := time.Now()
	r, err := runner(pool).Execute(ctx, j, jobs.Limits{TimeBudget: time.Hour})
	if err != nil {
		return nil, 0, 0, err
	}
	elapsed := time.Since(start)
	hwm, err := rss.Peak()
	return r, elapsed, hwm, err
}

func runner(pool *pgxpool.Pool) *jobs.Runner {
	return &jobs.Runner{Pool: pool, KeyFingerprint: subject.NewHasher(hashKey).Fingerprint(), Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
}
