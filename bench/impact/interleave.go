package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/retention"
)

// A scenario measures the load beside some of lethe's work, interleaved
// with the load alone on the same database: windows alone, work, alone,
// work, ..., alone. Other tenants' stalls on a shared machine come and go
// over seconds to minutes; within a run they fall on alone and work
// windows alike, so the ratio of the two cancels them where two separate
// runs (one alone, one with lethe) do not. lethe's work is cut into
// windows by its time budget: each work window is a whole lethe run that
// stops starting batches after the window and the next one continues
// where it stopped, as a run after a budget stop does.
type scenario struct {
	name, tmpl string
	// prep changes the fresh copy before the load starts; nil: nothing.
	prep func(ctx context.Context, p *pgxpool.Pool) error
	// arms are the kinds of work window, taken in turn.
	arms []arm
}

// arm is one kind of work window: fn does at most budget of work (or all
// of it when once) and reports it in r; a window that does nothing ends
// the scenario.
type arm struct {
	label string
	once  bool
	fn    func(ctx context.Context, p *pgxpool.Pool, pol string, budget time.Duration, r *variantResult) error
}

// window is one stretch of the load, alone (arm -1) or beside an arm.
type window struct {
	arm    int
	first  bool // the round's first window, before any of lethe's work
	result variantResult
}

// scenarioRun is what a scenario measured.
type scenarioRun struct {
	scenario
	windows []window
	samples []sample
	errs    int
	rounds  int   // rounds done
	diag    *diag // -diag: what the server did in each window
}

func lethe(job string, l jobs.Limits) func(context.Context, *pgxpool.Pool, string, time.Duration, *variantResult) error {
	return func(ctx context.Context, p *pgxpool.Pool, pol string, budget time.Duration, r *variantResult) error {
		l.TimeBudget = budget
		return runLethe(ctx, p, pol, job, l, r)
	}
}

func whole(fn func(context.Context, *pgxpool.Pool, string, *variantResult) error) func(context.Context, *pgxpool.Pool, string, time.Duration, *variantResult) error {
	return func(ctx context.Context, p *pgxpool.Pool, pol string, _ time.Duration, r *variantResult) error {
		return fn(ctx, p, pol, r)
	}
}

// scenarios are the (b) purge, (c) retention and (d) the same
// work as one transaction, each beside the load alone (a); governor on
// and off windows alternate in (b) and (c). lethe runs with its default
// settings, with the time budget cutting its work into windows.
func scenarios(o options) ([]scenario, error) {
	// The binary's defaults: the governor with its latency probe.
	on := jobs.Limits{AllowLarge: true, Governor: jobs.Governor{LatencyProbe: true, MaxShare: o.maxDBShare, ProbeFactor: o.probeFactor, MinProbeLatency: o.probeMinLatency}}
	off := on
	off.Governor.Off = true
	one := off
	one.BatchSize, one.MaxBatchSize, one.StatementTimeout, one.TimeBudget = o.eligible, o.eligible, time.Hour, time.Hour
	out := []scenario{
		{name: "b purge", tmpl: "tmpl_plain", arms: []arm{{label: "b governor on", fn: lethe("purge", on)},
			{label: "b0 governor off", fn: lethe("purge", off)}}},
		{name: "c retention", tmpl: "tmpl_plain", arms: []arm{{label: "c governor on", fn: lethe("retention", on)},
			{label: "c0 governor off", fn: lethe("retention", off)}}},
		{name: "d purge as one transaction", tmpl: "tmpl_plain", arms: []arm{{label: "d one transaction", once: true,
			fn: func(ctx context.Context, p *pgxpool.Pool, pol string, _ time.Duration, r *variantResult) error {
				return runLethe(ctx, p, pol, "purge", one, r)
			}}}},
		{name: "d2 retention as one DELETE", tmpl: "tmpl_plain", arms: []arm{{label: "d2 one DELETE", once: true, fn: whole(oneDelete)}}},
	}
	if !o.offArm {
		out[0].arms, out[1].arms = out[0].arms[:1], out[1].arms[:1]
	}
	if len(o.bArms) > 0 {
		arms, err := purgeArms(o.bArms, on)
		if err != nil {
			return nil, err
		}
		out[0].arms = arms
	}
	if len(o.cShares) > 0 {
		out[1].arms = shareArms(o.cShares, on)
	}
	if len(o.cBursts) > 0 {
		out[1].arms = burstArms(o.cBursts, on)
	}
	if len(o.cNices) > 0 {
		out[1].arms = niceArms(o.cNices, on)
	}
	if o.cPrune {
		out[1].arms = retentionArms([]bool{true, false}, on, func(skip bool) string {
			if skip {
				return "c/noprune governor on, rows deleted left to the application and VACUUM to prune"
			}
			return "c/prune governor on, each range prunes the one before (the default)"
		}, func(skip bool, c *retention.Config) { c.SkipPrune = skip }, nil)
	}
	if len(o.cWWFlush) > 0 {
		out[1].arms = walWriterArms(o.cWWFlush, on)
	}
	if len(o.cWALComp) > 0 {
		out[1].arms = walCompArms(o.cWALComp, on)
	}
	if o.partitioned {
		warm := func(ctx context.Context, p *pgxpool.Pool) error {
			return warmPool(ctx, p, activeUsers(o.users, o.eligible)[0])
		}
		out = append(out,
			scenario{name: "c2 retention, partitioned", tmpl: "tmpl_part", prep: warm,
				arms: []arm{{label: "c2 governor on", fn: lethe("retention", on)}}},
			scenario{name: "c3 retention, partitioned, no default", tmpl: "tmpl_part",
				prep: func(ctx context.Context, p *pgxpool.Pool) error {
					// Without a default partition lethe before this
					// version detached CONCURRENTLY.
					if _, err := p.Exec(ctx, "DROP TABLE activity_log_default"); err != nil {
						return err
					}
					return warm(ctx, p)
				},
				arms: []arm{{label: "c3 governor on", fn: lethe("retention", on)}}})
	}
	return out, nil
}

// interleave runs sc under the load, o.rounds times (once for a one-off
// arm), each round on a fresh copy of its template; windows of all rounds
// are pooled.
func interleave(ctx context.Context, s *server, sc scenario, users []string, o options, pol string) (scenarioRun, error) {
	run := scenarioRun{scenario: sc}
	rounds := o.rounds
	if sc.arms[0].once {
		rounds = 1
	}
	if n := len(sc.arms); n > 1 && rounds%n != 0 {
		// Each round starts with the next arm, on a table fresh from a
		// CHECKPOINT: with 3 rounds of 2 arms the first starts two.
		fmt.Printf("# note: %s: %d rounds over %d arms, so the first arms start more rounds than the others;"+
			" use a multiple of %d rounds to compare arms\n", sc.name, rounds, n, n)
	}
	for range rounds {
		if err := run.round(ctx, s, users, o, pol); err != nil {
			return run, err
		}
	}
	return run, nil
}

// round runs one round of run's scenario on a fresh copy of its template.
func (run *scenarioRun) round(ctx context.Context, s *server, users []string, o options, pol string) error {
	db := "bench_impact"
	if _, err := s.admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY", db, run.tmpl)); err != nil {
		return err
	}
	defer s.admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE "+db+" WITH (FORCE)")
	pool, err := newPool(ctx, s.URLFor(db), "app", 24)
	if err != nil {
		return err
	}
	defer pool.Close()
	if run.prep != nil {
		if err := run.prep(ctx, pool); err != nil {
			return err
		}
	}
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	// The copy's files are still dirty in the page cache: written back
	// under the first windows they would stall the load's WAL flushes.
	syscall.Sync()
	l := startOLTP(pool, users, o.rate)
	l.window.Store(-1)
	time.Sleep(time.Second) // the load's connections are open before the first window
	if o.diag {
		if run.diag == nil {
			run.diag = newDiag()
		}
		if err := run.diag.attach(ctx, s.URLFor(db)); err != nil {
			l.stop()
			return err
		}
		defer run.diag.detach(ctx)
	}
	err = run.windowsUnder(ctx, l, pool, o, pol)
	samples, errs := l.stop()
	run.samples, run.errs = append(run.samples, samples...), run.errs+errs
	run.rounds++
	return err
}

// windowsUnder runs alone and work windows in turn until 3 work windows
// in a row did nothing or o.maxWindows work windows have run. After each work window, o.guard
// of the load counts nowhere, so that the tail of lethe's last batch does
// not count as the load alone.
func (run *scenarioRun) windowsUnder(ctx context.Context, l *oltp, pool *pgxpool.Pool, o options, pol string) error {
	open := func(arm int) {
		run.windows = append(run.windows, window{arm: arm})
		l.window.Store(int32(len(run.windows) - 1))
		run.diagOpen(ctx, int32(len(run.windows)-1))
	}
	open(-1)
	run.windows[len(run.windows)-1].first = true
	time.Sleep(o.window)
	empty := 0
	for k := 0; k < o.maxWindows; k++ {
		// Each round starts with the next arm, so that no arm always
		// gets a round's first (or last) work.
		i := (k + run.rounds) % len(run.arms)
		a := run.arms[i]
		open(i)
		w := &run.windows[len(run.windows)-1]
		w.result.name = a.label
		err := a.fn(ctx, pool, pol, o.window, &w.result)
		l.window.Store(-1)
		run.diagOpen(ctx, -1)
		if err != nil {
			return fmt.Errorf("%s: %w", a.label, err)
		}
		time.Sleep(o.guard)
		if w.result.units == 0 {
			// Nothing done: the work is finished, or on a busy machine
			// lethe's start took the whole budget. Counts nowhere; the
			// round ends after 3 such windows in a row.
			w.arm = -2
			if empty++; empty == 3 {
				return nil
			}
			continue
		}
		empty = 0
		open(-1)
		time.Sleep(o.window)
		if a.once {
			return nil
		}
	}
	return nil
}

// diagOpen starts window w (-1: none) in the run's diag, if any.
func (run *scenarioRun) diagOpen(ctx context.Context, w int32) {
	if run.diag != nil {
		run.diag.open(ctx, w)
	}
}

// shareArms are governor-on retention arms, one per LETHE_MAX_DB_SHARE in
// shares, taken in turn within each round.
func shareArms(shares []float64, on jobs.Limits) []arm {
	var out []arm
	for _, v := range shares {
		out = append(out, shareArm(fmt.Sprintf("c/%.2f", v), "retention", v, on))
	}
	return out
}

// shareArm is a governor-on arm named name that runs job with
// LETHE_MAX_DB_SHARE v.
func shareArm(name, job string, v float64, on jobs.Limits) arm {
	l := on
	l.Governor.MaxShare = v
	// A cap below the default floor lowers the floor too (as setting
	// LETHE_MIN_DB_SHARE with it would); otherwise the floor raises it.
	l.Governor.MinShare = min(v, jobs.DefaultMinShare)
	return arm{label: fmt.Sprintf("%s governor on, share cap %.2f", name, v), fn: lethe(job, l)}
}

// retentionArms are governor-on retention arms, one per value, taken in
// turn: label names an arm, edit changes the job's Config for its value,
// and around, when not nil, runs the arm's work (its pool included).
func retentionArms[T any](values []T, on jobs.Limits, label func(T) string, edit func(T, *retention.Config), around func(T, func() error) error) []arm {
	var out []arm
	for _, v := range values {
		out = append(out, arm{label: label(v),
			fn: func(ctx context.Context, p *pgxpool.Pool, pol string, budget time.Duration, r *variantResult) error {
				l := on
				l.TimeBudget = budget
				work := func() error {
					return runLetheWith(ctx, p, pol, "retention", l, r, func(c *retention.Config) {
						if edit != nil {
							edit(v, c)
						}
					})
				}
				if around != nil {
					return around(v, work)
				}
				return work()
			}})
	}
	return out
}

// burstArms: one arm per retention PacedRangeTime.
func burstArms(bursts []time.Duration, on jobs.Limits) []arm {
	return retentionArms(bursts, on, func(d time.Duration) string { return fmt.Sprintf("c/%s governor on, paced ranges <= %s", d, d) },
		func(d time.Duration, c *retention.Config) { c.PacedRangeTime = d }, nil)
}

// niceArms: one arm per CPU niceness of lethe's server backends.
func niceArms(nices []int, on jobs.Limits) []arm {
	return retentionArms(nices, on, func(n int) string { return fmt.Sprintf("c/nice%d governor on, lethe's backends at nice %d", n, n) },
		nil, func(n int, work func() error) error {
			niceLethe = n
			defer func() { niceLethe = 0 }()
			return work()
		})
}

// walWriterArms: one arm per server wal_writer_flush_after, set (ALTER
// SYSTEM, reload) for the arm's work window only and reset after it, so
// the alone windows run with the server's default.
func walWriterArms(sizes []string, on jobs.Limits) []arm {
	out := retentionArms(sizes, on, func(v string) string {
		return fmt.Sprintf("c/wwflush-%s governor on, server wal_writer_flush_after %s", v, v)
	}, nil, nil)
	for i := range out {
		fn, v := out[i].fn, sizes[i]
		out[i].fn = func(ctx context.Context, p *pgxpool.Pool, pol string, budget time.Duration, r *variantResult) error {
			set := func(sql string) error {
				if _, err := p.Exec(ctx, sql); err != nil {
					return err
				}
				_, err := p.Exec(ctx, "SELECT pg_reload_conf()")
				return err
			}
			if err := set(fmt.Sprintf("ALTER SYSTEM SET wal_writer_flush_after = '%s'", v)); err != nil {
				return err
			}
			defer func() { _ = set("ALTER SYSTEM RESET wal_writer_flush_after") }()
			return fn(ctx, p, pol, budget, r)
		}
	}
	return out
}

// walCompArms: one arm per wal_compression of lethe's sessions.
func walCompArms(methods []string, on jobs.Limits) []arm {
	return retentionArms(methods, on, func(m string) string {
		return fmt.Sprintf("c/walcomp-%s governor on, lethe's wal_compression %s", m, m)
	}, nil, withWALCompression)
}
