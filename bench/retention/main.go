// Command retention benchmarks lethe's retention job against the usual ways
// of deleting old rows, on a private PostgreSQL cluster:
//
//	go run ./bench/retention -rows 5000000
//
// Each variant starts from the same template database (CREATE DATABASE ...
// TEMPLATE), checkpointed and vacuumed, while pgbench runs a light
// read/write load at a fixed rate; the table printed at the end gives
// rows/s, WAL bytes, the longest transaction and the load's p99 latency.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/bench/internal/benchdb"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/retention"
)

type options struct {
	rows, sample, rate int
	days, keepDays     int
	runs               int
	only               string
	noFsync            bool
}

type result struct {
	name       string
	rows       int64
	elapsed    time.Duration
	wal        int64
	longest    time.Duration
	loadTx     int
	p99        time.Duration
	partitions int64
	note       string
}

func (r result) rate() float64 { return float64(r.rows) / r.elapsed.Seconds() }

func main() {
	var o options
	flag.IntVar(&o.rows, "rows", 5_000_000, "rows in activity_log")
	flag.IntVar(&o.sample, "sample", 2000, "rows the naive variant deletes (it is too slow for all)")
	flag.IntVar(&o.rate, "rate", 50, "pgbench load rate, transactions per second")
	flag.IntVar(&o.days, "days", 250, "days the rows span; partitions are daily")
	flag.IntVar(&o.keepDays, "keep", 150, "retention in days (days-keep of days are older: 40% by default)")
	flag.IntVar(&o.runs, "runs", 2, "runs of each variant; the table shows medians")
	flag.StringVar(&o.only, "only", "", "letters of the variants to run (e.g. \"cd\"); all when empty")
	nf := benchdb.NoFsync()
	flag.Parse()
	o.noFsync = *nf
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	s, err := startServer(o.noFsync)
	if err != nil {
		return err
	}
	defer s.stop()
	admin, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	var asOf time.Time
	if err := admin.QueryRow(ctx, "SELECT date_trunc('hour', now())").Scan(&asOf); err != nil {
		return err
	}
	cutoff := asOf.Add(-time.Duration(o.keepDays) * 24 * time.Hour)
	start := time.Now()
	if err := buildTemplates(ctx, s, admin, o, asOf); err != nil {
		return err
	}
	var hasPartman bool
	_ = admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = 'tmpl_part' AND EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_partman'))").Scan(&hasPartman)
	fmt.Printf("built %d rows (plain and partitioned by day) in %s; cutoff %s\n", o.rows, time.Since(start).Round(time.Second), cutoff.Format(time.RFC3339))

	variants := []struct {
		name, tmpl string
		fn         func(ctx context.Context, pool *pgxpool.Pool, r *result) error
	}{
		{"a naive (per-row DELETE, sample)", "tmpl_plain", func(ctx context.Context, p *pgxpool.Pool, r *result) error { return naive(ctx, p, cutoff, o.sample, r) }},
		{"b ctid IN (... LIMIT 1000) loop", "tmpl_plain", func(ctx context.Context, p *pgxpool.Pool, r *result) error { return laravel(ctx, p, cutoff, r) }},
		{"c lethe retention", "tmpl_plain", func(ctx context.Context, p *pgxpool.Pool, r *result) error {
			return lethe(ctx, p, asOf, o.keepDays, 0, r)
		}},
		{"d one DELETE", "tmpl_plain", func(ctx context.Context, p *pgxpool.Pool, r *result) error { return oneDelete(ctx, p, cutoff, r) }},
		{"e lethe retention, partitions", "tmpl_part", func(ctx context.Context, p *pgxpool.Pool, r *result) error {
			return lethe(ctx, p, asOf, o.keepDays, 0, r)
		}},
		{"f pg_partman run_maintenance", "tmpl_part", func(ctx context.Context, p *pgxpool.Pool, r *result) error { return partman(ctx, p, o.keepDays, r) }},
		// i: the concurrent path, which pg_partman's default partition rules out in e.
		{"i lethe, partitions, no default (DETACH CONCURRENTLY)", "tmpl_part", func(ctx context.Context, p *pgxpool.Pool, r *result) error {
			if _, err := p.Exec(ctx, "DROP TABLE IF EXISTS activity_log_default"); err != nil {
				return err
			}
			return lethe(ctx, p, asOf, o.keepDays, 0, r)
		}},
		// g and h force each method, to check the choice that c makes (run them with -keep 240, 245...).
		{"g lethe, block ranges forced", "tmpl_plain", func(ctx context.Context, p *pgxpool.Pool, r *result) error {
			return lethe(ctx, p, asOf, o.keepDays, 1e-9, r)
		}},
		{"h lethe, keyset forced", "tmpl_plain", func(ctx context.Context, p *pgxpool.Pool, r *result) error {
			return lethe(ctx, p, asOf, o.keepDays, 2, r)
		}},
	}
	var results []result
	for i, v := range variants {
		if v.tmpl == "tmpl_part" && strings.HasPrefix(v.name, "f") && !hasPartman {
			results = append(results, result{name: v.name, note: "pg_partman not installed (scripts/install-partman.sh)"})
			continue
		}
		if o.only != "" && !strings.ContainsRune(o.only, rune(v.name[0])) {
			continue
		}
		var runs []result
		for k := range max(o.runs, 1) {
			db := fmt.Sprintf("v%d_%d", i, k)
			r, err := measure(ctx, s, admin, v.tmpl, db, o.rate, v.name, v.fn)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			fmt.Printf("  %s: %d rows in %s, longest tx %s, load p99 %.1f ms (%s)\n", v.name, r.rows, r.elapsed.Round(time.Millisecond),
				r.longest.Round(time.Millisecond), float64(r.p99.Microseconds())/1000, r.note)
			runs = append(runs, r)
		}
		results = append(results, median(runs))
	}
	printTable(o, results)
	return nil
}

// measure copies the template, settles it, and runs one variant under load.
func measure(ctx context.Context, s *server, admin *pgx.Conn, tmpl, db string, rate int, name string,
	fn func(context.Context, *pgxpool.Pool, *result) error) (result, error) {
	r := result{name: name}
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", db, tmpl)); err != nil {
		return r, err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE "+db+" WITH (FORCE)")
	pc, err := pgxpool.ParseConfig(s.url(db))
	if err != nil {
		return r, err
	}
	pc.MaxConns = 4
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return r, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return r, err
	}
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		return r, err
	}
	l, err := startLoad(s, db, rate)
	if err != nil {
		return r, err
	}
	time.Sleep(1500 * time.Millisecond) // the load's first round runs before the variant starts
	var lsn string
	if err := pool.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return r, err
	}
	started := time.Now()
	err = fn(ctx, pool, &r)
	r.elapsed = time.Since(started)
	_ = pool.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint", lsn).Scan(&r.wal)
	r.loadTx, r.p99 = l.stop()
	return r, err
}

func naive(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time, sample int, r *result) error {
	rows, err := pool.Query(ctx, "SELECT id FROM activity_log WHERE created_at < $1 LIMIT $2", cutoff, sample)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	for _, id := range ids {
		t := time.Now()
		ct, err := pool.Exec(ctx, "DELETE FROM activity_log WHERE id = $1", id)
		if err != nil {
			return err
		}
		r.rows += ct.RowsAffected()
		r.longest = max(r.longest, time.Since(t))
	}
	r.note = fmt.Sprintf("sample of %d rows", sample)
	return nil
}

func laravel(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time, r *result) error {
	for {
		t := time.Now()
		ct, err := pool.Exec(ctx, "DELETE FROM activity_log WHERE ctid IN (SELECT ctid FROM activity_log WHERE created_at < $1 LIMIT 1000)", cutoff)
		if err != nil {
			return err
		}
		r.longest = max(r.longest, time.Since(t))
		r.rows += ct.RowsAffected()
		if ct.RowsAffected() == 0 {
			return nil
		}
	}
}

func oneDelete(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time, r *result) error {
	t := time.Now()
	ct, err := pool.Exec(ctx, "DELETE FROM activity_log WHERE created_at < $1", cutoff)
	r.rows, r.longest = ct.RowsAffected(), time.Since(t)
	return err
}

// lethe runs the retention job; fraction is its BlockRangeFraction (0: the
// default choice of method, a tiny value: block ranges, above 1: keyset).
func lethe(ctx context.Context, pool *pgxpool.Pool, asOf time.Time, keepDays int, fraction float64, r *result) error {
	pol, err := policy.Parse([]byte(fmt.Sprintf(`subject: {table: users, key: id, requested_at: deletion_requested_at, grace: 30d}
retention:
  - {table: activity_log, column: created_at, keep: %dd}
`, keepDays)), "bench.yaml")
	if err != nil {
		return err
	}
	limits := jobs.Limits{TimeBudget: time.Hour}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	j, err := retention.New(retention.Config{Deps: jobs.Deps{Pool: pool, Policy: pol, Logger: logger}, AsOf: asOf, BlockRangeFraction: fraction})
	if err != nil {
		return err
	}
	rep, err := (&jobs.Runner{Pool: pool, Logger: logger}).Execute(ctx, j, limits)
	if err != nil {
		return err
	}
	for _, n := range rep.Rows {
		r.rows += n
	}
	r.longest = time.Duration(rep.Counter("longest_transaction_ms")) * time.Millisecond
	r.partitions = rep.Counter("partitions_dropped")
	method := "keyset"
	switch walks := rep.Counter("activity_log.block_range_walks"); {
	case r.partitions > 0 && walks > 0:
		method = "partitions dropped, block ranges on the rest"
	case r.partitions > 0 && rep.Counter("batches") > 0:
		method = "partitions dropped, keyset on the rest"
	case r.partitions > 0:
		method = "partitions dropped"
	case walks > 0:
		method = "block ranges"
	}
	r.note = fmt.Sprintf("%d batches (%s)", rep.Counter("batches"), method)
	return nil
}

func partman(ctx context.Context, pool *pgxpool.Pool, keepDays int, r *result) error {
	var before int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM activity_log").Scan(&before); err != nil {
		return err
	}
	parts := func() (n int64) {
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'activity_log'::regclass").Scan(&n)
		return n
	}
	p0 := parts()
	if _, err := pool.Exec(ctx, "UPDATE partman.part_config SET retention = $1, retention_keep_table = false, retention_keep_index = false, premake = 4 WHERE parent_table = 'public.activity_log'",
		fmt.Sprintf("%d days", keepDays)); err != nil {
		return err
	}
	t := time.Now()
	if _, err := pool.Exec(ctx, "SELECT partman.run_maintenance('public.activity_log')"); err != nil {
		return err
	}
	r.longest = time.Since(t)
	var after int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM activity_log").Scan(&after); err != nil {
		return err
	}
	r.rows = before - after // the load adds a few rows meanwhile: close enough
	r.partitions = p0 - parts()
	r.note = "run_maintenance is one transaction; straddling and default-partition rows stay"
	return nil
}

func printTable(o options, rs []result) {
	fsync := "on"
	if o.noFsync {
		fsync = "off"
	}
	fmt.Printf("\nrows=%d, keep=%dd of %d days, load %d tx/s (pgbench, 2 clients), fsync=%s, medians of %d runs\n", o.rows, o.keepDays, o.days, o.rate, fsync, max(o.runs, 1))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\trows\tseconds\trows/s\tWAL MB\tlongest tx ms\tload p99 ms\tload tx\tpartitions\t")
	by := map[byte]result{}
	for _, r := range rs {
		by[r.name[0]] = r
		if r.elapsed == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t\n", r.name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.1f\t%d\t%.1f\t%d\t%d\t\n", r.name, r.rows, r.elapsed.Seconds(), r.rate(),
			float64(r.wal)/(1<<20), r.longest.Milliseconds(), float64(r.p99.Microseconds())/1000, r.loadTx, r.partitions)
	}
	tw.Flush()
	for _, r := range rs {
		if r.note != "" {
			fmt.Printf("  %s: %s\n", r.name, r.note)
		}
	}
	ratio := func(a, b byte) string {
		if by[a].elapsed == 0 || by[b].elapsed == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", by[a].rate()/by[b].rate())
	}
	fmt.Printf("\nc/d = %s (target >= 0.8)   c/b = %s (target >= 2.5)   c/a = %s (target >= 100)\n", ratio('c', 'd'), ratio('c', 'b'), ratio('c', 'a'))
	for _, k := range []byte{'e', 'f', 'i'} {
		if r := by[k]; r.partitions > 0 {
			fmt.Printf("%s: %.1f ms per dropped partition (%d partitions, whole run %s)\n", r.name,
				float64(r.elapsed.Milliseconds())/float64(r.partitions), r.partitions, r.elapsed.Round(time.Millisecond))
		}
	}
}

// median is one result whose every number is the median of the runs'
// (the mean of the middle two for an even count); rows/s is computed from
// the median rows and the median time.
func median(rs []result) result {
	out := rs[0]
	if len(rs) == 1 {
		return out
	}
	mid := func(get func(result) int64) int64 {
		v := make([]int64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		n := len(v)
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	out.rows = mid(func(r result) int64 { return r.rows })
	out.elapsed = time.Duration(mid(func(r result) int64 { return int64(r.elapsed) }))
	out.wal = mid(func(r result) int64 { return r.wal })
	out.longest = time.Duration(mid(func(r result) int64 { return int64(r.longest) }))
	out.loadTx = int(mid(func(r result) int64 { return int64(r.loadTx) }))
	out.p99 = time.Duration(mid(func(r result) int64 { return int64(r.p99) }))
	out.partitions = mid(func(r result) int64 { return r.partitions })
	return out
}
