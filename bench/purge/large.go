package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/bench/internal/servercpu"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/pgtest"
)

// largeOptions describe issue 12's large schema: a users table with
// children tables that hold a foreign key to it (each with a rule) and
// unrelated tables that only fill the catalog, like a large Rails app.
type largeOptions struct {
	tables, children, users, eligible int
	// baseline is a git revision whose lethe runs beside this one.
	baseline string
}

func (l *largeOptions) flags() {
	flag.IntVar(&l.tables, "large-tables", 0, "run the large-schema benchmark with this many tables (e.g. 1000) instead of the shapes")
	flag.IntVar(&l.children, "large-children", 190, "tables of the large schema with a foreign key to users")
	flag.IntVar(&l.users, "large-users", 20000, "users in the large schema")
	flag.IntVar(&l.eligible, "large-eligible", 2000, "eligible users in the large schema")
	flag.StringVar(&l.baseline, "baseline", "", "also run lethe built from this git revision (e.g. main), for a before/after: beside -large-tables, or as variant lethe@REV of the shapes")
}

// largeSchemaSQL creates the large schema: users, children c0001... with a
// foreign key, an index on it and on created_at, and unrelated tables.
func (l largeOptions) schemaSQL() []string {
	step := l.users / l.eligible
	out := []string{fmt.Sprintf(`CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, requested_at timestamptz, hold boolean NOT NULL DEFAULT false,
			created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO users (id, email, requested_at) SELECT i, 'user' || i || '@example.com',
			CASE WHEN i %% %d = 0 THEN now() - interval '40 days' END FROM generate_series(1, %d) i;
		CREATE INDEX ON users (requested_at) WHERE requested_at IS NOT NULL;
		CREATE UNIQUE INDEX ON users (email);`, step, l.users)}
	for i := 1; i <= l.children; i++ {
		out = append(out, fmt.Sprintf(`CREATE TABLE c%04[1]d (id bigserial PRIMARY KEY, user_id bigint REFERENCES users (id), body text NOT NULL,
				state integer NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
			INSERT INTO c%04[1]d (user_id, body) SELECT u, md5(u::text) FROM generate_series(1, %[2]d) u WHERE (u # %[1]d) %% 3 = 0;
			CREATE INDEX ON c%04[1]d (user_id); CREATE INDEX ON c%04[1]d (created_at); CREATE INDEX ON c%04[1]d (state, updated_at);`, i, l.users))
	}
	for i := l.children + 1; i <= l.tables; i++ {
		out = append(out, fmt.Sprintf(`CREATE TABLE u%04[1]d (id bigserial PRIMARY KEY, name text NOT NULL, value integer,
				created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
			INSERT INTO u%04[1]d (name, value) SELECT md5(k::text), k FROM generate_series(1, 20) k;
			CREATE INDEX ON u%04[1]d (name); CREATE INDEX ON u%04[1]d (created_at);`, i))
	}
	return out
}

// policyYAML deletes the children's rows, but anonymizes every tenth
// table's.
func (l largeOptions) policyYAML() string {
	var b strings.Builder
	b.WriteString("subject: {table: users, key: id, requested_at: requested_at, grace: 30d, hold: hold}\ntables:\n")
	for i := 1; i <= l.children; i++ {
		if i%10 == 0 {
			fmt.Fprintf(&b, "  - {table: c%04d, match: user_id, action: anonymize, set: {user_id: null, body: {pseudonym: 'gone-'}}}\n", i)
			continue
		}
		fmt.Fprintf(&b, "  - {table: c%04d, match: user_id, action: delete}\n", i)
	}
	if l.tables > l.children {
		b.WriteString("ignore:\n")
		for i := l.children + 1; i <= l.tables; i++ {
			fmt.Fprintf(&b, "  - {table: u%04d, reason: no personal data}\n", i)
		}
	}
	return b.String()
}

func buildLargeTemplate(ctx context.Context, srv *pgtest.Server, l largeOptions) error {
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE bench_large"); err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, srv.URLFor("bench_large"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for _, q := range l.schemaSQL() {
		if _, err := c.Exec(ctx, q); err != nil {
			return err
		}
	}
	_, err = c.Exec(ctx, "VACUUM ANALYZE")
	return err
}

// batchTimes reads the transaction time of each batch from lethe's debug
// log, in the order the batches ended.
func batchTimes(log string) []time.Duration {
	var out []time.Duration
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"msg":"batch done"`) {
			continue
		}
		var l struct {
			Select  int64 `json:"select_and_erasers"`
			Steps   int64 `json:"steps"`
			Receipt int64 `json:"receipts_and_commit"`
		}
		if json.Unmarshal([]byte(line), &l) == nil {
			out = append(out, time.Duration(l.Select+l.Steps+l.Receipt))
		}
	}
	return out
}

// longestTx returns the longest transaction of a run's first batches (one
// per worker) and of its later ones, and how many batches it ran.
func longestTx(log string, workers int) (first, later time.Duration, n int) {
	times := batchTimes(log)
	for i, d := range times {
		if i < workers {
			first = max(first, d)
		} else {
			later = max(later, d)
		}
	}
	return first, later, len(times)
}

// runLarge runs lethe (and the baseline revision's) on clones of the large
// schema and prints the longest transaction of the first batches (one per
// worker, on fresh connections) and of the later ones.
func runLarge(ctx context.Context, srv *pgtest.Server, bin string, o options) error {
	l := o.large
	fmt.Printf("building the large schema: %d tables, %d with a foreign key to users, %d users, %d eligible\n", l.tables, l.children, l.users, l.eligible)
	t0 := time.Now()
	if err := buildLargeTemplate(ctx, srv, l); err != nil {
		return err
	}
	fmt.Printf("template built in %s\n", time.Since(t0).Round(time.Second))
	bins := []struct{ name, path string }{{"lethe", bin}}
	if l.baseline != "" {
		old, cleanup, err := letheproc.BuildAt(".", l.baseline)
		if err != nil {
			return err
		}
		defer cleanup()
		bins = append([]struct{ name, path string }{{"lethe@" + l.baseline, old}}, bins...)
	}
	workers := max(o.workers, 1)
	if o.workers == 0 {
		workers = 2 // lethe's default
	}
	o.letheLogLevel = "debug"
	const row = "%-14s %4v %9v %11v %8v %26v %26v  %s\n"
	fmt.Printf(row, "binary", "run", "subjects", "subjects/s", "batches", "first batches' longest tx", "later batches' longest tx", "load")
	// The binaries take turns, each round starting with the next, so that
	// the shared machine's load falls on both alike.
	for run := 0; run < o.runs; run++ {
		for k := range bins {
			b := bins[(k+run)%len(bins)]
			db := fmt.Sprintf("bench_large_%d", run)
			if err := cloneTemplate(ctx, srv, "bench_large", db); err != nil {
				return err
			}
			u, _ := url.Parse(srv.URLFor(db))
			if o.profile {
				if err := resetStats(ctx, u.String()); err != nil {
					return err
				}
			}
			r, err := letheRun(b.path, u.String(), l.policyYAML(), o)
			if err != nil {
				return fmt.Errorf("%s: %w", b.name, err)
			}
			if o.profile {
				if err := printStats(ctx, u.String(), b.name, r.subjects); err != nil {
					return err
				}
			}
			first, later, n := longestTx(r.log, workers)
			fmt.Printf(row, b.name, run+1, r.subjects, fmt.Sprintf("%.0f", r.rate()), n,
				first.Round(time.Millisecond), later.Round(time.Millisecond), servercpu.LoadAverage())
			if err := dropDB(ctx, srv, db); err != nil {
				return err
			}
		}
	}
	return nil
}
