// Command impact measures what the application notices while lethe works
// beside it, on a private PostgreSQL cluster with durable settings (fsync,
// full-page writes and synchronous commit on):
//
//	go run ./bench/impact                       # the sizes
//	go run ./bench/impact -users 40000 -eligible 4000 -old-rows 500000 -scale 8000   # a quick run
//
// An OLTP load (reads and updates of active users, inserts into the
// activity log) runs at a fixed rate while, each on a fresh copy of the
// same database: nothing else (a); lethe purges the eligible subjects (b);
// lethe's retention deletes the old activity rows, on a plain table (c) and
// on a table partitioned by week with a default partition (c2); the same
// work as one transaction (d: the purge's statements for every subject at
// once, one DELETE for retention). It prints the load's p50/p99 and their
// ratio to (a), and lethe's throughput with the governor on and off. Then
// the replica-lag run (a streaming replica of the cluster) and the
// scale-out run (1, 2 and 4 lethe processes on one purge).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
)

type options struct {
	users, eligible, oldRows int
	rate                     int
	alone                    time.Duration
	scale                    int
	maxLag                   time.Duration
	only                     string
}

type server struct {
	*pgtest.Server
	admin *pgx.Conn
}

func main() {
	var o options
	flag.IntVar(&o.users, "users", 200000, "users in the database")
	flag.IntVar(&o.eligible, "eligible", 20000, "users past their grace period, purged in (b)")
	flag.IntVar(&o.oldRows, "old-rows", 5000000, "activity rows older than the retention, deleted in (c)")
	flag.IntVar(&o.rate, "rate", 200, "OLTP transactions per second")
	flag.DurationVar(&o.alone, "alone", 15*time.Second, "how long (a) runs the load alone")
	flag.IntVar(&o.scale, "scale", 40000, "subjects the scale-out run purges with 1, 2 and 4 processes (0: skip)")
	flag.DurationVar(&o.maxLag, "max-lag", 5*time.Second, "the governor's LETHE_MAX_REPLICA_LAG in the replica-lag run")
	flag.StringVar(&o.only, "only", "impact,lag,scale", "which runs: impact, lag, scale")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-impact:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	srv, err := pgtest.NewServer([]string{"fsync=on", "full_page_writes=on", "synchronous_commit=on",
		"shared_buffers=256MB", "max_wal_size=4GB", "max_connections=100", "TimeZone=UTC", "wal_receiver_status_interval=1s"})
	if err != nil {
		return err
	}
	defer srv.Close()
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	s := &server{Server: srv, admin: admin}
	pol, err := policyText()
	if err != nil {
		return err
	}
	fmt.Printf("# machine: %s\n", machine())
	if strings.Contains(o.only, "impact") || strings.Contains(o.only, "lag") {
		start := time.Now()
		if err := makeTemplate(ctx, s, "tmpl_plain", o.users, o.eligible, o.oldRows, false); err != nil {
			return err
		}
		if err := makeTemplate(ctx, s, "tmpl_part", o.users, o.eligible, o.oldRows, true); err != nil {
			return err
		}
		fmt.Printf("# built %d users (%d eligible), %d old activity rows, plain and partitioned, in %s\n",
			o.users, o.eligible, o.oldRows, time.Since(start).Round(time.Second))
	}
	if strings.Contains(o.only, "impact") {
		if err := impact(ctx, s, o, pol); err != nil {
			return err
		}
	}
	if strings.Contains(o.only, "lag") {
		if err := replicaLag(ctx, s, o, pol); err != nil {
			return err
		}
	}
	if strings.Contains(o.only, "scale") && o.scale > 0 {
		if err := scaleOut(ctx, s, o, pol); err != nil {
			return err
		}
	}
	return nil
}

// impact runs the variants and prints the table.
func impact(ctx context.Context, s *server, o options, pol string) error {
	users := activeUsers(o.users, o.eligible)
	var rows []variantResult
	for _, v := range variants(o) {
		r, err := measure(ctx, s, v, users, o, pol)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		fmt.Printf("  %-44s %s\n", v.name, r.line())
		rows = append(rows, r)
	}
	// The partitioned variants compare with the load alone on the
	// partitioned table (a2), the others with a.
	base, basePart := rows[0].load, rows[0].load
	if a2 := find(rows, "a2"); a2 != nil {
		basePart = a2.load
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nvariant\tload tx\terrors\tp50 ms\tp99 ms\tp99/(a or a2)\tmax ms\tlethe s\tlethe units/s\tlongest tx ms\tthrottled s\t\n")
	for _, r := range rows {
		base := base
		if strings.Contains(r.name, "partitioned") {
			base = basePart
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.2f\t%.0f\t%.1f\t%.0f\t%d\t%.1f\t\n", r.name, r.load.n, r.load.errs,
			ms(r.load.p50), ms(r.load.p99), ms(r.load.p99)/ms(base.p99), ms(r.load.max), r.elapsed.Seconds(), r.rate(),
			r.longestMS, r.throttled)
	}
	tw.Flush()
	for _, pair := range [][2]string{{"b", "b0"}, {"c", "c0"}} {
		on, off := find(rows, pair[0]), find(rows, pair[1])
		if on != nil && off != nil {
			fmt.Printf("lethe throughput, governor on / off: %s %.2f\n", pair[0], on.rate()/off.rate())
		}
	}
	return nil
}

func find(rs []variantResult, prefix string) *variantResult {
	for i := range rs {
		if strings.HasPrefix(rs[i].name, prefix+" ") {
			return &rs[i]
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model, cores := "", 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			cores++
			if model == "" {
				model = strings.TrimSpace(l[strings.Index(l, ":")+1:])
			}
		}
	}
	return fmt.Sprintf("%d x %s, loopback, shared with other work", cores, model)
}
