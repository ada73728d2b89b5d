// Command purge benchmarks lethe's purge against a naive per-subject loop
// and the set-based limit, on loopback and through a proxy that adds a
// round-trip time. Run it with make bench-purge (ARGS="-users 20000").
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgtest"
)

type options struct {
	users, eligible           int
	rtt                       time.Duration
	naiveLoopback, naiveDelay int
	batch, workers, runs      int
	letheLog, letheLogLevel   string
}

// tables are the 8 related tables with their rows per user; the first is
// anonymized, the rest deleted.
var tables = []struct {
	name string
	rows int
}{{"notes", 3}, {"sessions", 4}, {"comments", 3}, {"likes", 3}, {"uploads", 2}, {"activity", 3}, {"messages", 1}, {"devices", 1}}

func main() {
	var o options
	flag.IntVar(&o.users, "users", 100000, "accounts in the database")
	flag.IntVar(&o.eligible, "eligible", 20000, "accounts past their grace period")
	flag.DurationVar(&o.rtt, "rtt", time.Millisecond, "round-trip time the proxy adds")
	flag.IntVar(&o.naiveLoopback, "naive-sample", 2000, "subjects the naive loop erases on loopback")
	flag.IntVar(&o.naiveDelay, "naive-sample-rtt", 300, "subjects the naive loop erases through the proxy")
	flag.IntVar(&o.batch, "batch", 1000, "lethe batch size")
	flag.IntVar(&o.workers, "workers", 2, "lethe workers")
	flag.IntVar(&o.runs, "runs", 3, "runs of each variant; the table shows the median")
	flag.StringVar(&o.letheLog, "lethe-log", "", "append lethe's log lines to this file")
	flag.StringVar(&o.letheLogLevel, "lethe-log-level", "info", "lethe's log level (debug shows per-batch phases)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-purge:", err)
		os.Exit(1)
	}
}

type result struct {
	variant, network string
	subjects         int
	elapsed          time.Duration
	longestTx        time.Duration
	rssKiB           int64
}

func (r result) rate() float64 { return float64(r.subjects) / r.elapsed.Seconds() }

func run(o options) error {
	ctx := context.Background()
	// autovacuum is off and checkpoints happen only where the benchmark asks
	// (before each variant), so that neither lands on one variant and not
	// another; every variant starts from a vacuumed, analyzed template.
	srv, err := pgtest.NewServer([]string{"fsync=on", "synchronous_commit=on", "full_page_writes=on", "shared_buffers=512MB", "max_wal_size=8GB", "checkpoint_timeout=1h", "autovacuum=off"})
	if err != nil {
		return err
	}
	defer srv.Close()
	bin, cleanup, err := buildLethe()
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Printf("building template: %d users, %d eligible, %d related rows per user in %d tables\n", o.users, o.eligible, rowsPerUser(), len(tables))
	t0 := time.Now()
	if err := buildTemplate(ctx, srv, o); err != nil {
		return err
	}
	fmt.Printf("template built in %s\n", time.Since(t0).Round(time.Second))
	proxy, err := newLatencyProxy(fmt.Sprintf("127.0.0.1:%d", srv.Port), o.rtt)
	if err != nil {
		return err
	}
	defer proxy.Close()

	for _, hp := range []struct{ name, host string }{{"loopback", fmt.Sprintf("127.0.0.1:%d", srv.Port)}, {"proxy", proxy.Addr()}} {
		u, _ := url.Parse(srv.URLFor("bench_template"))
		u.Host = hp.host
		rtt, err := measureRTT(ctx, u.String())
		if err != nil {
			return err
		}
		fmt.Printf("measured round trip (SELECT 1, median of 200) on %s: %s\n", hp.name, rtt.Round(10*time.Microsecond))
	}

	var results []result
	for _, network := range []string{"loopback", fmt.Sprintf("+%s RTT", o.rtt)} {
		host := fmt.Sprintf("127.0.0.1:%d", srv.Port)
		sample := o.naiveLoopback
		if network != "loopback" {
			host, sample = proxy.Addr(), o.naiveDelay
		}
		for _, v := range []string{"naive", "lethe", "set-based"} {
			var runs []result
			for run := 0; run < o.runs; run++ {
				db := fmt.Sprintf("bench_%d_%d", len(results), run)
				if err := cloneTemplate(ctx, srv, db); err != nil {
					return err
				}
				u, _ := url.Parse(srv.URLFor(db))
				u.Host = host
				var r result
				switch v {
				case "naive":
					r, err = naive(ctx, u.String(), sample)
				case "lethe":
					r, err = letheRun(bin, u.String(), o)
				case "set-based":
					r, err = setBased(ctx, u.String())
				}
				if err != nil {
					return fmt.Errorf("%s on %s: %w", v, network, err)
				}
				r.variant, r.network = v, network
				fmt.Printf("  %-9s %-10s %6d subjects in %8s: %8.0f subjects/s\n", v, network, r.subjects, r.elapsed.Round(time.Millisecond), r.rate())
				runs = append(runs, r)
				if err := dropDB(ctx, srv, db); err != nil {
					return err
				}
			}
			results = append(results, median(runs))
		}

	}
	report(results)
	return nil
}

// median returns the run with the median rate.
func median(runs []result) result {
	slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.rate(), b.rate()) })
	return runs[len(runs)/2]
}

func rowsPerUser() int {
	n := 0
	for _, t := range tables {
		n += t.rows
	}
	return n
}

func report(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Println("median of the runs of each variant:")
	fmt.Fprintln(tw, "network\tvariant\tsubjects\tsubjects/s\tlongest tx\tpeak RSS")
	for _, r := range results {
		rss := "-"
		if r.rssKiB > 0 {
			rss = fmt.Sprintf("%.1f MiB", float64(r.rssKiB)/1024)
		}
		lt := "-"
		if r.longestTx > 0 {
			lt = r.longestTx.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\n", r.network, r.variant, r.subjects, r.rate(), lt, rss)
	}
	tw.Flush()
	fmt.Println()
	for i := 0; i+2 < len(results); i += 3 {
		a, b, c := results[i], results[i+1], results[i+2]
		fmt.Printf("%-12s b/a (lethe/naive) = %6.1f   b/c (lethe/set-based) = %.2f\n", a.network, b.rate()/a.rate(), b.rate()/c.rate())
	}
}

func buildLethe() (string, func(), error) {
	dir, err := os.MkdirTemp("", "bench-purge-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "lethe")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("build lethe: %v: %s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if b, _ := os.ReadFile(filepath.Join(d, "go.mod")); strings.Contains(string(b), "module github.com/lethe-project/lethe\n") {
				return d
			}
		}
	}
	return dir
}

// letheRun runs the lethe binary and reads its peak RSS from the kernel.
func letheRun(bin, dbURL string, o options) (result, error) {
	dir, err := os.MkdirTemp("", "bench-policy-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(policyYAML()), 0o600); err != nil {
		return result{}, err
	}
	cmd := exec.Command(bin, "--job", "purge", "--allow-large", "--time-budget", "1h",
		"--batch-size", fmt.Sprint(o.batch), "--workers", fmt.Sprint(o.workers), "--log-format", "json", "--log-level", o.letheLogLevel)
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
	r := result{elapsed: el, subjects: intField(stderr.String(), "subjects_done")}
	r.longestTx = time.Duration(intField(stderr.String(), "longest_transaction_ms")) * time.Millisecond
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rssKiB = ru.Maxrss
	}
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

func policyYAML() string {
	var b strings.Builder
	b.WriteString("subject: {table: users, key: id, requested_at: requested_at, grace: 30d, hold: hold}\ntables:\n")
	for i, t := range tables {
		if i == 0 {
			fmt.Fprintf(&b, "  - {table: %s, match: user_id, action: anonymize, set: {user_id: null, body: {pseudonym: 'gone-'}}}\n", t.name)
			continue
		}
		fmt.Fprintf(&b, "  - {table: %s, match: user_id, action: delete}\n", t.name)
	}
	return b.String()
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
