// Command purge benchmarks lethe's purge against a naive per-subject loop
// and the set-based limit, on loopback and through a proxy that adds a
// round-trip time. Run it with make bench-purge (ARGS="-users 20000").
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/bench/internal/servercpu"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/internal/pgtest"
)

type options struct {
	users, eligible           int
	rtt                       time.Duration
	naiveLoopback, naiveDelay int
	batch, workers, runs      int
	letheLog, letheLogLevel   string
	shape                     shape
	scales                    []int
	variants, networks        []string
	large                     largeOptions
	// profile prints pg_stat_statements after each run.
	profile bool
	// vacuum times a VACUUM of the database after each run.
	vacuum bool
	// sharedBuffers is the server's shared_buffers.
	sharedBuffers string
	// baselineBin is lethe built at -baseline, run as variant lethe@REV.
	baselineBin string
}

func main() {
	var o options
	var shapeName, scales, variants, networks string
	flag.IntVar(&o.users, "users", 100000, "accounts in the database at scale 1")
	flag.IntVar(&o.eligible, "eligible", 20000, "accounts past their grace period (the same at every scale)")
	flag.DurationVar(&o.rtt, "rtt", time.Millisecond, "round-trip time the proxy adds")
	flag.IntVar(&o.naiveLoopback, "naive-sample", 2000, "subjects the naive loop erases on loopback")
	flag.IntVar(&o.naiveDelay, "naive-sample-rtt", 300, "subjects the naive loop erases through the proxy")
	flag.IntVar(&o.batch, "batch", 0, "lethe batch size (0: lethe's default)")
	flag.IntVar(&o.workers, "workers", 0, "lethe workers (0: lethe's default)")
	flag.IntVar(&o.runs, "runs", 3, "runs of each variant; the table shows the median")
	flag.StringVar(&o.letheLog, "lethe-log", "", "append lethe's log lines to this file")
	flag.StringVar(&o.letheLogLevel, "lethe-log-level", "info", "lethe's log level (debug shows per-batch phases)")
	flag.StringVar(&shapeName, "shape", "8x20", "schema: 8x20 (8 tables, 20 rows per user) or 16-heavy (16 tables, a text match column, one subject with 20,000 rows)")
	flag.StringVar(&scales, "scales", "1", "comma-separated multiples of -users to run at, e.g. 1,4,16")
	flag.StringVar(&variants, "variants", "naive,lethe,set-based", "comma-separated variants to run: naive, lethe, set-based; lethe-wN runs lethe with N workers, lethe-bN with batches of at most N subjects")
	flag.StringVar(&networks, "networks", "loopback,rtt", "comma-separated networks: loopback, rtt (through the proxy)")
	o.large.flags()
	flag.StringVar(&o.sharedBuffers, "shared-buffers", "512MB", "the server's shared_buffers (the 16-heavy shape at 16x is ~1.7 GB)")
	flag.BoolVar(&o.vacuum, "vacuum", false, "after each run, time a VACUUM of its database (the dead rows it left), apart from the run's time")
	flag.BoolVar(&o.profile, "profile", false, "load pg_stat_statements and print each run's top statements (time per subject, buffers, WAL)")
	printSQL := flag.Bool("print-schema", false, "print the shape's schema at -users and its policy, and exit (to study plans by hand)")
	flag.Parse()
	var err error
	if o.scales, err = parseScales(scales); err != nil {
		fmt.Fprintln(os.Stderr, "bench-purge: -scales:", err)
		os.Exit(2)
	}
	sh, ok := shapes[shapeName]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench-purge: -shape %q: want 8x20 or 16-heavy\n", shapeName)
		os.Exit(2)
	}
	o.shape, o.variants, o.networks = sh, strings.Split(variants, ","), strings.Split(networks, ",")
	if *printSQL && o.large.tables > 0 {
		fmt.Println(strings.Join(o.large.schemaSQL(), "\n"))
		fmt.Print("/* policy:\n" + o.large.policyYAML() + "*/\n")
		return
	}
	if *printSQL {
		fmt.Println(sh.schemaSQL(o.users, o.users/o.eligible))
		fmt.Print("/* policy:\n" + sh.policyYAML() + "*/\n")
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-purge:", err)
		os.Exit(1)
	}
}

func parseScales(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

type result struct {
	variant, network string
	scale            int
	subjects         int
	elapsed          time.Duration
	users            int
	longestTx        time.Duration
	rssKiB           int64
	// cpu is lethe's own CPU time, user and system (lethe runs only).
	cpu time.Duration
	// serverCPU is the PostgreSQL server's CPU time during the run.
	serverCPU time.Duration
	// walBytes is the WAL the server wrote during the run.
	walBytes int64
	// url is the run's database; load the load average after it.
	url, load string
	// runs are, in a median, the runs it is the median of, in order.
	runs []result
	// vacuum and vacuumCPU are the time and server CPU of a VACUUM after
	// the run (-vacuum).
	vacuum, vacuumCPU time.Duration
	// log is lethe's log (lethe runs only).
	log string
}

func (r result) rate() float64 { return float64(r.subjects) / r.elapsed.Seconds() }

// perSubject is the wall time per erased subject.
func (r result) perSubject() time.Duration { return r.elapsed / time.Duration(max(r.subjects, 1)) }

func run(o options) error {
	ctx := context.Background()
	// autovacuum is off and checkpoints happen only where the benchmark asks
	// (before each variant), so that neither lands on one variant and not
	// another; every variant starts from a vacuumed, analyzed template.
	settings := []string{"fsync=on", "synchronous_commit=on", "full_page_writes=on", "shared_buffers=" + o.sharedBuffers, "max_wal_size=8GB", "checkpoint_timeout=1h", "autovacuum=off"}
	if o.profile {
		settings = append(settings, statsSettings...)
	}
	srv, err := pgtest.NewServer(settings)
	if err != nil {
		return err
	}
	defer srv.Close()
	bin, err := letheproc.Build()
	if err != nil {
		return err
	}
	defer letheproc.Cleanup()
	if o.large.tables > 0 {
		return runLarge(ctx, srv, bin, o)
	}
	if o.large.baseline != "" {
		old, cleanup, err := letheproc.BuildAt(".", o.large.baseline)
		if err != nil {
			return err
		}
		defer cleanup()
		o.baselineBin = old
		o.variants = append(o.variants, "lethe@"+o.large.baseline)
	}
	proxy, err := newLatencyProxy(fmt.Sprintf("127.0.0.1:%d", srv.Port), o.rtt)
	if err != nil {
		return err
	}
	defer proxy.Close()
	var results []result
	for _, scale := range o.scales {
		rs, err := runScale(ctx, srv, proxy, bin, o, scale)
		if err != nil {
			return err
		}
		results = append(results, rs...)
	}
	report(results)
	reportScales(results)
	reportCosts(results)
	return nil
}

// runScale builds the template at scale times -users and runs every
// variant on every network on clones of it.
func runScale(ctx context.Context, srv *pgtest.Server, proxy *latencyProxy, bin string, o options, scale int) ([]result, error) {
	users := o.users * scale
	tmpl := fmt.Sprintf("bench_template_%d", scale)
	fmt.Printf("building template (shape %s, scale %d): %d users, %d eligible, %d related rows per user in %d tables\n",
		o.shape.name, scale, users, o.eligible, o.shape.rowsPerUser(), len(o.shape.tables))
	t0 := time.Now()
	if err := buildTemplate(ctx, srv, tmpl, o.shape, users, o.eligible); err != nil {
		return nil, err
	}
	fmt.Printf("template built in %s\n", time.Since(t0).Round(time.Second))
	defer dropDB(ctx, srv, tmpl)
	var results []result
	for _, network := range o.networks {
		host, sample := fmt.Sprintf("127.0.0.1:%d", srv.Port), o.naiveLoopback
		name := "loopback"
		if network == "rtt" {
			host, sample, name = proxy.Addr(), o.naiveDelay, fmt.Sprintf("+%s RTT", o.rtt)
		}
		u, _ := url.Parse(srv.URLFor(tmpl))
		u.Host = host
		rtt, err := measureRTT(ctx, u.String())
		if err != nil {
			return nil, err
		}
		fmt.Printf("measured round trip (SELECT 1, median of 200) on %s: %s\n", name, rtt.Round(10*time.Microsecond))
		// The variants take turns, run after run, each round starting with
		// the next one, so that a change of the shared machine's load, and
		// the first run after the template's build, fall on all alike.
		runs := map[string][]result{}
		for run := 0; run < o.runs; run++ {
			for k := range o.variants {
				i := (k + run) % len(o.variants)
				v := o.variants[i]
				db := fmt.Sprintf("bench_%d_%d_%d", len(results), i, run)
				r, err := runOne(ctx, srv, bin, o, tmpl, db, host, v, sample)
				if err != nil {
					return nil, fmt.Errorf("%s on %s: %w", v, name, err)
				}
				r.variant, r.network, r.scale, r.users = v, name, scale, users
				fmt.Printf("  %-9s %-10s %6d subjects in %8s: %8.0f subjects/s%s\n", v, name, r.subjects, r.elapsed.Round(time.Millisecond), r.rate(), r.cpuNote())
				if o.profile {
					if err := printStats(ctx, r.url, v, r.subjects); err != nil {
						return nil, err
					}
				}
				if err := dropDB(ctx, srv, db); err != nil {
					return nil, err
				}
				runs[v] = append(runs[v], r)
			}
		}
		for _, v := range o.variants {
			m := median(runs[v])
			m.runs = runs[v]
			results = append(results, m)
		}
	}
	return results, nil
}

// runOne runs variant v once on db, a fresh copy of the template tmpl,
// and reads the server's CPU time and the load average around it.
func runOne(ctx context.Context, srv *pgtest.Server, bin string, o options, tmpl, db, host, v string, sample int) (result, error) {
	if err := cloneTemplate(ctx, srv, tmpl, db); err != nil {
		return result{}, err
	}
	u, _ := url.Parse(srv.URLFor(db))
	u.Host = host
	if o.profile {
		if err := resetStats(ctx, u.String()); err != nil {
			return result{}, err
		}
	}
	wal0, err := walPosition(ctx, u.String())
	if err != nil {
		return result{}, err
	}
	cpu0, err := servercpu.Read(ctx, u.String())
	if err != nil {
		return result{}, err
	}
	var r result
	switch v {
	case "naive":
		r, err = naive(ctx, u.String(), o.shape, sample)
	case "lethe":
		r, err = letheRun(bin, u.String(), o.shape.policyYAML(), o)
	case "set-based":
		r, err = setBased(ctx, u.String(), o.shape)
	case "lethe@" + o.large.baseline:
		r, err = letheRun(o.baselineBin, u.String(), o.shape.policyYAML(), o)
	default:
		ow, ok := letheVariant(o, v)
		if !ok {
			return result{}, fmt.Errorf("unknown variant (want naive, lethe, lethe-wN, lethe-bN or set-based)")
		}
		r, err = letheRun(bin, u.String(), o.shape.policyYAML(), ow)
	}
	if err != nil {
		return result{}, err
	}
	cpu1, err := servercpu.Read(ctx, u.String())
	if err != nil {
		return result{}, err
	}
	wal1, err := walPosition(ctx, u.String())
	if err != nil {
		return result{}, err
	}
	r.serverCPU, r.walBytes, r.url, r.load = cpu1-cpu0, wal1-wal0, u.String(), servercpu.LoadAverage()
	if o.vacuum {
		if r.vacuum, r.vacuumCPU, err = timeVacuum(ctx, u.String(), cpu1); err != nil {
			return result{}, err
		}
	}
	return r, nil
}

// cpuNote says how much CPU the run took, and the machine's load.
func (r result) cpuNote() string {
	note := fmt.Sprintf(" (server CPU %s, WAL %.0f MB", r.serverCPU.Round(10*time.Millisecond), float64(r.walBytes)/1e6)
	if r.cpu > 0 {
		note += fmt.Sprintf(", lethe's own CPU %s", r.cpu.Round(time.Millisecond))
	}
	if r.vacuum > 0 {
		note += fmt.Sprintf(", then VACUUM %s with %s of server CPU", r.vacuum.Round(time.Millisecond), r.vacuumCPU.Round(10*time.Millisecond))
	}
	return note + ", load " + r.load + ")"
}

// letheVariant returns the options of a lethe variant: lethe-wN runs it
// with N workers, lethe-bN with batches of at most N subjects.
func letheVariant(o options, v string) (options, bool) {
	for _, p := range []struct {
		prefix string
		n      *int
	}{{"lethe-w", &o.workers}, {"lethe-b", &o.batch}} {
		if rest, ok := strings.CutPrefix(v, p.prefix); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 1 {
				return o, false
			}
			*p.n = n
			return o, true
		}
	}
	return o, false
}

// letheRun runs the lethe binary and reads its peak RSS from the kernel.
func letheRun(bin, dbURL, policy string, o options) (result, error) {
	dir, err := os.MkdirTemp("", "bench-policy-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(policy), 0o600); err != nil {
		return result{}, err
	}
	args := []string{"--job", "purge", "--allow-large", "--time-budget", "1h", "--log-format", "json", "--log-level", o.letheLogLevel}
	if o.batch > 0 {
		args = append(args, "--batch-size", fmt.Sprint(o.batch))
	}
	if o.workers > 0 {
		args = append(args, "--workers", fmt.Sprint(o.workers))
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LETHE_DATABASE_URL="+dbURL, "LETHE_POLICY="+pol, "LETHE_SUBJECT_HASH_KEY=bench")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	el := time.Since(start)
	if o.letheLog != "" {
		if f, err := os.OpenFile(o.letheLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.WriteString(stderr.String())
			f.Close()
		}
	}
	r := result{elapsed: el, subjects: intField(stderr.String(), "subjects_done"), log: stderr.String()}
	r.longestTx = time.Duration(intField(stderr.String(), "longest_transaction_ms")) * time.Millisecond
	r.cpu, r.rssKiB = servercpu.Child(cmd.ProcessState)
	return r, nil
}

func intField(log, name string) int {
	i := strings.LastIndex(log, `"`+name+`":`)
	if i < 0 {
		return 0
	}
	var n int
	fmt.Sscanf(log[i+len(name)+3:], "%d", &n)
	return n
}

func connect(ctx context.Context, u string) (*pgx.Conn, error) { return pgx.Connect(ctx, u) }

// measureRTT times SELECT 1 round trips, so that the ratios can be read
// against the latency the proxy really added on this machine.
func measureRTT(ctx context.Context, u string) (time.Duration, error) {
	c, err := connect(ctx, u)
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	ds := make([]time.Duration, 200)
	for i := range ds {
		t0 := time.Now()
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			return 0, err
		}
		ds[i] = time.Since(t0)
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}
