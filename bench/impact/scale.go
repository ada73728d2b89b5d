package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/bench/internal/servercpu"
	"github.com/lethe-project/lethe/internal/letheproc"
)

// scaleCounts are the numbers of lethe processes the scale-out run
// compares.
var scaleCounts = []int{1, 2, 4}

// scaleRun is one purge by n processes.
type scaleRun struct {
	n                   int
	elapsed             time.Duration
	serverCPU, letheCPU time.Duration
	load                string
}

func (r scaleRun) rate(subjects int) float64 { return float64(subjects) / r.elapsed.Seconds() }

// scaleOut purges o.scale subjects with 1, 2 and 4 lethe processes (the
// real binary, default settings: 2 workers each, governor on), each run on
// a fresh copy of the same database. On a shared machine one run of each
// says little, so the counts take turns over o.rounds rounds, in the order
// 1, 2, 4 and then 4, 2, 1, and the medians and spreads are printed, with
// the server's CPU time per second of each run: near the machine's cores,
// the database is the limit.
func scaleOut(ctx context.Context, s *server, o options, pol string) error {
	bin, err := letheproc.Build()
	if err != nil {
		return err
	}
	defer letheproc.Cleanup()
	users := 2 * o.scale
	start := time.Now()
	if err := makeTemplate(ctx, s, "tmpl_scale", users, o.scale, 0, false); err != nil {
		return err
	}
	polFile, cleanup, err := writePolicy(pol, "lethe-bench-scale-")
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Printf("\n# scale-out: purge of %d subjects (of %d users; built in %s), lethe processes with LETHE_WORKERS=2 each, %d rounds\n",
		o.scale, users, time.Since(start).Round(time.Second), max(o.rounds, 1))
	runs := map[int][]scaleRun{}
	for round := range max(o.rounds, 1) {
		order := slices.Clone(scaleCounts)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, n := range order {
			r, err := scaleOnce(ctx, s, bin, polFile, n, o.scale)
			if err != nil {
				return fmt.Errorf("%d processes: %w", n, err)
			}
			fmt.Printf("  round %d, %d process(es): %s, %.0f subjects/s, server CPU %.2f cores, lethe CPU %.2f cores, load %s\n",
				round+1, n, r.elapsed.Round(time.Millisecond), r.rate(o.scale), cores(r.serverCPU, r.elapsed), cores(r.letheCPU, r.elapsed), r.load)
			runs[n] = append(runs[n], r)
		}
	}
	printScale(runs, o.scale)
	return nil
}

func cores(cpu, wall time.Duration) float64 { return cpu.Seconds() / wall.Seconds() }

// printScale prints, per count, the median rate, its spread, and the
// speed-up of the medians and of each round.
func printScale(runs map[int][]scaleRun, subjects int) {
	median := func(rs []scaleRun) scaleRun {
		s := slices.Clone(rs)
		slices.SortFunc(s, func(a, b scaleRun) int { return cmp.Compare(a.rate(subjects), b.rate(subjects)) })
		return s[len(s)/2]
	}
	base := median(runs[1]).rate(subjects)
	for _, n := range scaleCounts {
		m := median(runs[n])
		var rates, ups []string
		for i, r := range runs[n] {
			rates = append(rates, fmt.Sprintf("%.0f", r.rate(subjects)))
			ups = append(ups, fmt.Sprintf("%.2f", r.rate(subjects)/runs[1][i].rate(subjects)))
		}
		fmt.Printf("  %d process(es): median %.0f subjects/s (runs %s), speed-up %.2f (by round %s), server CPU %.2f cores\n",
			n, m.rate(subjects), strings.Join(rates, ", "), m.rate(subjects)/base, strings.Join(ups, ", "), cores(m.serverCPU, m.elapsed))
	}
}

// scaleOnce purges the eligible subjects of a fresh copy of tmpl_scale
// with n lethe processes at once.
func scaleOnce(ctx context.Context, s *server, bin, polFile string, n, subjects int) (scaleRun, error) {
	db := "bench_scale"
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+db+" TEMPLATE tmpl_scale STRATEGY FILE_COPY"); err != nil {
		return scaleRun{}, err
	}
	defer func() { _, _ = s.admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)") }()
	cpu0, err := servercpu.Read(ctx, s.URLFor(db))
	if err != nil {
		return scaleRun{}, err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "LETHE_DATABASE_URL=" + s.URLFor(db), "LETHE_POLICY=" + polFile,
		"LETHE_SUBJECT_HASH_KEY=bench-key", "LETHE_TIME_BUDGET=1h", "LETHE_LOG_LEVEL=warn"}
	errs := make([]error, n)
	cpu := make([]time.Duration, n)
	var wg sync.WaitGroup
	started := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, bin, "--job", "purge", "--allow-large")
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, out)
			}
			cpu[i], _ = servercpu.Child(cmd.ProcessState)
		}()
	}
	wg.Wait()
	r := scaleRun{n: n, elapsed: time.Since(started), load: servercpu.LoadAverage()}
	for i := range n {
		if errs[i] != nil {
			return r, errs[i]
		}
		r.letheCPU += cpu[i]
	}
	cpu1, err := servercpu.Read(ctx, s.URLFor(db))
	if err != nil {
		return r, err
	}
	r.serverCPU = cpu1 - cpu0
	c, err := pgx.Connect(ctx, s.URLFor(db))
	if err != nil {
		return r, err
	}
	defer c.Close(ctx)
	var left int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM users WHERE deleted_at IS NOT NULL").Scan(&left); err != nil {
		return r, err
	}
	if left != 0 {
		return r, fmt.Errorf("%d of %d subjects left", left, subjects)
	}
	return r, nil
}

// writePolicy writes pol to a policy.yaml in a new temporary directory
// named after prefix, for the lethe binary, and returns its path and the
// function that removes the directory.
func writePolicy(pol, prefix string) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(pol), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}
