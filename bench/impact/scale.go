package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/letheproc"
)

// scaleOut purges o.scale subjects with 1, 2 and 4 lethe processes (the
// real binary, default settings: 2 workers each, governor on), each count
// on a fresh copy of the same database, and prints the speed-up.
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
	dir, err := os.MkdirTemp("", "lethe-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	polFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(polFile, []byte(pol), 0o600); err != nil {
		return err
	}
	fmt.Printf("\n# scale-out: purge of %d subjects (of %d users; built in %s), lethe processes with LETHE_WORKERS=2 each\n",
		o.scale, users, time.Since(start).Round(time.Second))
	var base float64
	for _, n := range []int{1, 2, 4} {
		db := "bench_scale"
		if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+db+" TEMPLATE tmpl_scale STRATEGY FILE_COPY"); err != nil {
			return err
		}
		env := []string{"PATH=" + os.Getenv("PATH"), "LETHE_DATABASE_URL=" + s.URLFor(db), "LETHE_POLICY=" + polFile,
			"LETHE_SUBJECT_HASH_KEY=bench-key", "LETHE_TIME_BUDGET=1h", "LETHE_LOG_LEVEL=warn"}
		codes := make([]error, n)
		var wg sync.WaitGroup
		started := time.Now()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.CommandContext(ctx, bin, "--job", "purge", "--allow-large")
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					codes[i] = fmt.Errorf("%v: %s", err, out)
				}
			}()
		}
		wg.Wait()
		el := time.Since(started)
		left := -1
		if c, err := pgx.Connect(ctx, s.URLFor(db)); err == nil {
			_ = c.QueryRow(ctx, "SELECT count(*) FROM users WHERE deleted_at IS NOT NULL").Scan(&left)
			c.Close(ctx)
		}
		_, _ = s.admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)")
		for _, err := range codes {
			if err != nil {
				return fmt.Errorf("%d processes: %w", n, err)
			}
		}
		rate := float64(o.scale) / el.Seconds()
		if n == 1 {
			base = rate
		}
		fmt.Printf("  %d process(es): %s, %.0f subjects/s, speed-up %.2f, subjects left %d\n", n, el.Round(time.Millisecond), rate, rate/base, left)
	}
	return nil
}
