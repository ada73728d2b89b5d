// Command impact measures what the application notices while lethe works
// beside it, on a private PostgreSQL cluster with durable settings (fsync,
// full-page writes and synchronous commit on):
//
//	go run ./bench/impact -only impact                  # the sizes
//	go run ./bench/impact -users 40000 -eligible 4000 -old-rows 500000 -only impact -partitioned=false   # a quick run
//
// An OLTP load (reads and updates of active users, inserts into the
// activity log) runs at a fixed rate. On a shared machine its latency alone
// moves from run to run more than lethe moves it, so each scenario
// interleaves windows of the load alone (a) with windows of lethe's work on
// the same database (interleave.go): lethe's purge with the governor on and
// off (b, b0), its retention (c, c0; c2 and c3 on a table partitioned by
// week, with and without a default partition), and the same work as one
// transaction (d, d2). It prints, per phase pooled over its windows, p50
// and p99 of all transactions, of the read-only ones (which wait for no
// WAL flush) and of the writes and their COMMIT alone; the p99 ratio to the
// load alone with a bootstrap interval over windows and whether the 1.5x
// target is met, not met, or undecidable at that spread; and lethe's
// throughput with the governor on and off. Then the replica-lag run (a
// streaming replica of the cluster) and the scale-out run (1, 2 and 4
// lethe processes on one purge).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
)

// sizeRe is a PostgreSQL size setting: a number and kB or MB.
var sizeRe = regexp.MustCompile(`^[0-9]+(kB|MB)?$`)

type options struct {
	users, eligible, oldRows int
	rate                     int
	window, guard            time.Duration
	maxWindows, rounds       int
	partitioned              bool
	offArm                   bool
	diag                     bool
	maxDBShare, probeFactor  float64
	probeMinLatency          time.Duration
	cShares                  []float64
	cBursts                  []time.Duration
	pgSettings               []string
	cNices                   []int
	cWALComp                 []string
	cWWFlush                 []string
	cPrune                   bool
	scenarios                string
	scale                    int
	maxLag                   time.Duration
	only                     string
	samplesOut               string
	bArms                    []string
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
	flag.DurationVar(&o.window, "window", 4*time.Second, "length of a load-alone window and lethe's time budget in a work window")
	flag.DurationVar(&o.guard, "guard", 2*time.Second, "load after each work window that counts nowhere")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of (b) and (c), each on a fresh copy, their windows pooled")
	flag.IntVar(&o.maxWindows, "max-windows", 200, "most work windows per scenario")
	flag.StringVar(&o.scenarios, "scenarios", "b,c,d,d2,c2,c3", "which impact scenarios, by their first word; h: lethe's throughput with the governor on and off and no load")
	flag.BoolVar(&o.offArm, "off-arm", true, "interleave governor-off windows (b0, c0) with the governor-on ones; false: every work window is governor on")
	flag.Func("pg-setting", "a server setting name=value added to the benchmark cluster's (durable) ones, e.g. wal_compression=lz4; repeatable",
		func(v string) error {
			if !strings.Contains(v, "=") {
				return fmt.Errorf("%q is not name=value", v)
			}
			o.pgSettings = append(o.pgSettings, v)
			return nil
		})
	flag.Func("c-nices", "diagnostic: comma-separated CPU niceness values (0-19) of lethe's server backends: scenario c gets one governor-on arm per value, interleaved, to tell the load's waits for a CPU lethe's backend holds from its waits for I/O",
		listOf(&o.cNices, strconv.Atoi))
	flag.BoolVar(&o.diag, "diag", false, "print, per window, the server's CPU and I/O by kind of process and its WAL and buffer counters")
	flag.Float64Var(&o.maxDBShare, "max-db-share", 0, "LETHE_MAX_DB_SHARE of the governor-on runs (0: lethe's default)")
	flag.Float64Var(&o.probeFactor, "probe-factor", 0, "LETHE_PROBE_FACTOR of the governor-on runs (0: lethe's default)")
	flag.DurationVar(&o.probeMinLatency, "probe-min-latency", 0, "LETHE_PROBE_MIN_LATENCY of the governor-on runs (0: lethe's default)")
	flag.Func("c-shares", "comma-separated LETHE_MAX_DB_SHARE values: scenario c gets one governor-on arm per value, interleaved (unset: one arm, -max-db-share)",
		listOf(&o.cShares, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }))
	flag.Func("c-wwflush", "comma-separated server wal_writer_flush_after values (1MB is the default): scenario c gets one governor-on arm per value, set for its work windows only, interleaved",
		listOf(&o.cWWFlush, func(v string) (string, error) {
			if !sizeRe.MatchString(v) {
				return "", fmt.Errorf("%q: want a size such as 64kB or 1MB (ALTER SYSTEM takes no parameters)", v)
			}
			return v, nil
		}))
	flag.Func("c-walcomp", "comma-separated wal_compression values (off, pglz, lz4, zstd) of lethe's sessions: scenario c gets one governor-on arm per value, interleaved",
		listOf(&o.cWALComp, func(v string) (string, error) { return v, nil }))
	flag.BoolVar(&o.cPrune, "c-prune", false, "scenario c gets two governor-on arms, interleaved: the default (each paced range prunes the one before), and without it (retention.Config.SkipPrune)")
	flag.Func("c-bursts", "comma-separated durations: scenario c gets one governor-on arm per retention PacedRangeTime, interleaved",
		listOf(&o.cBursts, time.ParseDuration))
	flag.Func("b-arms", "comma-separated arms of scenario b, interleaved (arms.go): on (default), proc (the binary in its own process), par, w1 (one worker), capD (paced batches <= D), shareF (LETHE_MAX_DB_SHARE=F)",
		listOf(&o.bArms, func(v string) (string, error) { return v, nil }))
	flag.BoolVar(&o.partitioned, "partitioned", true, "also measure retention on a table partitioned by week (c2, c3)")
	flag.IntVar(&o.scale, "scale", 40000, "subjects the scale-out run purges with 1, 2 and 4 processes (0: skip)")
	flag.DurationVar(&o.maxLag, "max-lag", 5*time.Second, "the governor's LETHE_MAX_REPLICA_LAG in the replica-lag run")
	flag.StringVar(&o.only, "only", "impact,lag,scale", "which runs: impact, lag, scale")
	flag.StringVar(&o.samplesOut, "samples", "", "write every load transaction (due time, latency, class, window) of the impact scenarios to this CSV file")
	logFile := flag.String("lethe-log", "", "write lethe's debug logs (the governor's probes) to this file")
	flag.Parse()
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-impact:", err)
			os.Exit(1)
		}
		defer f.Close()
		letheLog = f
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-impact:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	srv, err := pgtest.NewServer(append([]string{"fsync=on", "full_page_writes=on", "synchronous_commit=on",
		"shared_buffers=256MB", "max_wal_size=4GB", "max_connections=100", "TimeZone=UTC", "wal_receiver_status_interval=1s"}, o.pgSettings...))
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
	if len(o.pgSettings) > 0 {
		fmt.Printf("# server settings added: %s\n", strings.Join(o.pgSettings, " "))
	}
	if strings.Contains(o.only, "impact") || strings.Contains(o.only, "lag") {
		start := time.Now()
		if err := makeTemplate(ctx, s, "tmpl_plain", o.users, o.eligible, o.oldRows, false); err != nil {
			return err
		}
		if o.partitioned {
			if err := makeTemplate(ctx, s, "tmpl_part", o.users, o.eligible, o.oldRows, true); err != nil {
				return err
			}
		}
		fmt.Printf("# built %d users (%d eligible), %d old activity rows (partitioned copy too: %v) in %s\n",
			o.users, o.eligible, o.oldRows, o.partitioned, time.Since(start).Round(time.Second))
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

// impact runs the scenarios and prints each as it ends.
func impact(ctx context.Context, s *server, o options, pol string) error {
	users := activeUsers(o.users, o.eligible)
	want := map[string]bool{}
	for _, n := range strings.Split(o.scenarios, ",") {
		want[strings.TrimSpace(n)] = true
	}
	all, err := scenarios(o)
	if err != nil {
		return err
	}
	for _, sc := range all {
		if !want[strings.Fields(sc.name)[0]] {
			continue
		}
		run, err := interleave(ctx, s, sc, users, o, pol)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		run.print(o)
		if err := run.writeSamples(o.samplesOut); err != nil {
			return err
		}
		if run.diag != nil {
			run.diag.print(&run)
		}
	}
	if want["h"] {
		return healthy(ctx, s, o, pol)
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

// listOf is a flag.Func that parses a comma-separated list into dst; a
// value that does not parse is the flag's error.
func listOf[T any](dst *[]T, parse func(string) (T, error)) func(string) error {
	return func(list string) error {
		*dst = nil
		for _, f := range strings.Split(list, ",") {
			v, err := parse(strings.TrimSpace(f))
			if err != nil {
				return err
			}
			*dst = append(*dst, v)
		}
		return nil
	}
}
