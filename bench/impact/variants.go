package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/retention"
	"github.com/lethe-project/lethe/subject"
)

type variant struct {
	name, tmpl string
	// fn does the variant's work while the load runs; nil runs the load
	// alone for options.alone.
	fn func(ctx context.Context, p *pgxpool.Pool, pol string, r *variantResult) error
}

type variantResult struct {
	name      string
	load      latencies
	elapsed   time.Duration
	units     int64
	longestMS int64
	throttled float64
}

func (r variantResult) rate() float64 {
	if r.elapsed == 0 {
		return 0
	}
	return float64(r.units) / r.elapsed.Seconds()
}

func (r variantResult) line() string {
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms (%d tx); lethe %d in %s", ms(r.load.p50), ms(r.load.p99), r.load.n, r.units, r.elapsed.Round(time.Millisecond))
}

func variants(o options) []variant {
	purgeWith := func(l jobs.Limits) func(context.Context, *pgxpool.Pool, string, *variantResult) error {
		return func(ctx context.Context, p *pgxpool.Pool, pol string, r *variantResult) error {
			return runLethe(ctx, p, pol, "purge", l, r)
		}
	}
	retentionWith := func(l jobs.Limits) func(context.Context, *pgxpool.Pool, string, *variantResult) error {
		return func(ctx context.Context, p *pgxpool.Pool, pol string, r *variantResult) error {
			return runLethe(ctx, p, pol, "retention", l, r)
		}
	}
	on := jobs.Limits{AllowLarge: true, TimeBudget: time.Hour}
	off := on
	off.Governor.Off = true
	one := off
	one.BatchSize, one.MaxBatchSize, one.StatementTimeout = o.eligible, o.eligible, time.Hour
	return []variant{
		{name: "a load alone", tmpl: "tmpl_plain"},
		{name: "b lethe purge", tmpl: "tmpl_plain", fn: purgeWith(on)},
		{name: "b0 lethe purge, governor off", tmpl: "tmpl_plain", fn: purgeWith(off)},
		{name: "c lethe retention", tmpl: "tmpl_plain", fn: retentionWith(on)},
		{name: "c0 lethe retention, governor off", tmpl: "tmpl_plain", fn: retentionWith(off)},
		{name: "a2 load alone, partitioned", tmpl: "tmpl_part"},
		{name: "c2 lethe retention, partitioned", tmpl: "tmpl_part", fn: retentionWith(on)},
		{name: "c3 lethe retention, partitioned, no default", tmpl: "tmpl_part", fn: func(ctx context.Context, p *pgxpool.Pool, pol string, r *variantResult) error {
			// Without a default partition the detach is CONCURRENTLY.
			if _, err := p.Exec(ctx, "DROP TABLE activity_log_default"); err != nil {
				return err
			}
			return runLethe(ctx, p, pol, "retention", on, r)
		}},
		{name: "d purge as one transaction", tmpl: "tmpl_plain", fn: purgeWith(one)},
		{name: "d2 retention as one DELETE", tmpl: "tmpl_plain", fn: oneDelete},
	}
}

// runLethe runs a lethe job in this process, on a pool of its own named
// as lethe names its connections.
func runLethe(ctx context.Context, p *pgxpool.Pool, polText, job string, l jobs.Limits, r *variantResult) error {
	pol, err := policy.Parse([]byte(polText), "policy.yaml")
	if err != nil {
		return err
	}
	pool, err := newPool(ctx, p.Config().ConnConfig.ConnString(), "lethe", 8)
	if err != nil {
		return err
	}
	defer pool.Close()
	var j jobs.Job
	if job == "purge" {
		j, err = purge.New(purge.Config{Deps: jobs.Deps{Pool: pool, Policy: pol, Hasher: subject.NewHasher("bench-key")}, Workers: 2})
	} else {
		j, err = retention.New(retention.Config{Deps: jobs.Deps{Pool: pool, Policy: pol}})
	}
	if err != nil {
		return err
	}
	rn := &jobs.Runner{Pool: pool, Logger: slog.New(slog.DiscardHandler)}
	started := time.Now()
	rep, err := rn.Execute(ctx, j, l)
	r.elapsed = time.Since(started)
	if err != nil {
		return err
	}
	r.units = rep.Counter(jobs.SubjectsDone)
	if job == "retention" {
		for _, rc := range rep.RowCounts() {
			r.units += rc.Rows
		}
	}
	r.longestMS = rep.Counter(jobs.LongestTransactionMS)
	r.throttled = float64(rep.Counter(jobs.ThrottledMS)) / 1000
	return nil
}

func oneDelete(ctx context.Context, p *pgxpool.Pool, _ string, r *variantResult) error {
	started := time.Now()
	tag, err := p.Exec(ctx, "DELETE FROM activity_log WHERE created_at < now() - interval '90 days'")
	r.elapsed = time.Since(started)
	r.units, r.longestMS = tag.RowsAffected(), r.elapsed.Milliseconds()
	return err
}

func newPool(ctx context.Context, url, app string, conns int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = conns
	pc.ConnConfig.RuntimeParams["application_name"] = app
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	return pgxpool.NewWithConfig(ctx, pc)
}

// measure runs v on a fresh copy of its template under the load.
func measure(ctx context.Context, s *server, v variant, users []string, o options, pol string) (variantResult, error) {
	r := variantResult{name: v.name}
	db := "bench_impact"
	if _, err := s.admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY", db, v.tmpl)); err != nil {
		return r, err
	}
	defer s.admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE "+db+" WITH (FORCE)")
	pool, err := newPool(ctx, s.URLFor(db), "app", 24)
	if err != nil {
		return r, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		return r, err
	}
	l := startOLTP(pool, users, o.rate)
	time.Sleep(time.Second) // the load's connections are open before the work starts
	if v.fn == nil {
		time.Sleep(o.alone)
	} else if err := v.fn(ctx, pool, pol, &r); err != nil {
		l.stop()
		return r, err
	}
	r.load = l.stop()
	return r, nil
}
