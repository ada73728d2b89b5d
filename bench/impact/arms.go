package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/internal/letheproc"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/purge"
)

// purgeArms are scenario b's governor-on arms named in -b-arms, taken in
// turn within each round:
//
//	on    lethe's purge in this process (the default arm)
//	proc  the lethe binary in a process of its own, default settings: what
//	      lethe's own CPU (hashing, receipts, garbage collection) costs the
//	      load's client in this process is not counted
//	par   in this process, the two workers' batches side by side while
//	      paced too (purge.Config.PacedParallel: before one at a time)
//	w1    in this process, one worker (LETHE_WORKERS=1)
//	capD  in this process, paced batches aim at D at most (e.g. cap20ms)
//	shareF in this process, LETHE_MAX_DB_SHARE=F (e.g. share0.25)
//	walcompM in this process, lethe's sessions at wal_compression M (e.g.
//	      walcomplz4, walcompoff)
func purgeArms(names []string, on jobs.Limits) ([]arm, error) {
	var out []arm
	for _, n := range names {
		switch n {
		case "on":
			out = append(out, arm{label: "b governor on", fn: lethe("purge", on)})
		case "proc":
			// Built now: not in a window.
			if _, err := letheproc.Build(); err != nil {
				return nil, err
			}
			out = append(out, arm{label: "b/proc governor on, lethe binary", fn: purgeProcess})
		case "par":
			out = append(out, arm{label: "b/par governor on, paced batches side by side", fn: purgeEdit(on, func(c *purge.Config) { c.PacedParallel = true })})
		case "w1":
			out = append(out, arm{label: "b/w1 governor on, 1 worker", fn: purgeEdit(on, func(c *purge.Config) { c.Workers = 1 })})
		case "":
		default:
			if m, ok := strings.CutPrefix(n, "walcomp"); ok {
				fn := lethe("purge", on)
				out = append(out, arm{label: "b/" + n + " governor on, lethe's wal_compression " + m,
					fn: func(ctx context.Context, p *pgxpool.Pool, pol string, budget time.Duration, r *variantResult) error {
						return withWALCompression(m, func() error { return fn(ctx, p, pol, budget, r) })
					}})
				continue
			}
			if v, ok := strings.CutPrefix(n, "share"); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f <= 0 || f > 1 {
					return nil, fmt.Errorf("-b-arms: %q: the share must be in (0, 1]", n)
				}
				out = append(out, shareArm("b/"+n, "purge", f, on))
				continue
			}
			d, err := time.ParseDuration(strings.TrimPrefix(n, "cap"))
			if !strings.HasPrefix(n, "cap") || err != nil {
				return nil, fmt.Errorf("-b-arms: unknown arm %q (on, proc, par, w1, capDURATION, shareF, walcompM)", n)
			}
			out = append(out, arm{label: fmt.Sprintf("b/%s governor on, paced batches <= %s", n, d),
				fn: purgeEdit(on, func(c *purge.Config) { c.PacedBatchTime = d })})
		}
	}
	return out, nil
}

func purgeEdit(l jobs.Limits, edit func(*purge.Config)) func(context.Context, *pgxpool.Pool, string, time.Duration, *variantResult) error {
	return func(ctx context.Context, p *pgxpool.Pool, pol string, budget time.Duration, r *variantResult) error {
		l.TimeBudget = budget
		return runLetheEdit(ctx, p, pol, "purge", l, r, nil, edit)
	}
}

// purgeProcess runs the lethe binary's purge for budget, with its
// defaults, and counts the subjects it erased in the database.
func purgeProcess(ctx context.Context, p *pgxpool.Pool, pol string, budget time.Duration, r *variantResult) error {
	bin, err := letheproc.Build()
	if err != nil {
		return err
	}
	polFile, cleanup, err := writePolicy(pol, "lethe-bench-b-")
	if err != nil {
		return err
	}
	defer cleanup()
	const left = "SELECT count(*) FROM users WHERE deleted_at IS NOT NULL"
	var before, after int64
	if err := p.QueryRow(ctx, left).Scan(&before); err != nil {
		return err
	}
	url := p.Config().ConnConfig.ConnString()
	cmd := exec.CommandContext(ctx, bin, "--job", "purge", "--allow-large")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LETHE_DATABASE_URL=" + url, "LETHE_POLICY=" + polFile,
		"LETHE_SUBJECT_HASH_KEY=bench-key", "LETHE_TIME_BUDGET=" + budget.String(), "LETHE_LOG_LEVEL=warn"}
	started := time.Now()
	out, err := cmd.CombinedOutput()
	r.elapsed = time.Since(started)
	if err != nil && cmd.ProcessState.ExitCode() != 0 {
		return fmt.Errorf("lethe: %v: %s", err, out)
	}
	if err := p.QueryRow(ctx, left).Scan(&after); err != nil {
		return err
	}
	r.units = before - after
	return nil
}
