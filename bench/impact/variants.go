package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
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
	elapsed   time.Duration
	units     int64
	longestMS int64
	throttled float64
	// slowProbes and probeErrors are the latency probe's counts.
	slowProbes, probeErrors int64
	// blocks are the heap blocks retention's block ranges read.
	blocks int64
}

func (r variantResult) rate() float64 {
	if r.elapsed == 0 {
		return 0
	}
	return float64(r.units) / r.elapsed.Seconds()
}

// runLethe runs a lethe job in this process, on a pool of its own named
// as lethe names its connections.
func runLethe(ctx context.Context, p *pgxpool.Pool, polText, job string, l jobs.Limits, r *variantResult) error {
	return runLetheWith(ctx, p, polText, job, l, r, nil)
}

// runLetheWith is runLethe with edit, when not nil, applied to the
// retention job's configuration.
func runLetheWith(ctx context.Context, p *pgxpool.Pool, polText, job string, l jobs.Limits, r *variantResult, edit func(*retention.Config)) error {
	return runLetheEdit(ctx, p, polText, job, l, r, edit, nil)
}

// runLetheEdit is runLetheWith with editP, when not nil, applied to the
// purge job's configuration.
func runLetheEdit(ctx context.Context, p *pgxpool.Pool, polText, job string, l jobs.Limits, r *variantResult, edit func(*retention.Config), editP func(*purge.Config)) error {
	pol, err := policy.Parse([]byte(polText), "policy.yaml")
	if err != nil {
		return err
	}
	pool, err := newPool(ctx, p.Config().ConnConfig.ConnString(), "lethe", 8)
	if err != nil {
		return err
	}
	defer pool.Close()
	logger := slog.New(slog.DiscardHandler)
	if letheLog != nil {
		logger = slog.New(slog.NewJSONHandler(letheLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var j jobs.Job
	if job == "purge" {
		pc := purge.Config{Deps: jobs.Deps{Pool: pool, Policy: pol, Hasher: subject.NewHasher("bench-key"), Logger: logger}, Workers: 2}
		if editP != nil {
			editP(&pc)
		}
		j, err = purge.New(pc)
	} else {
		rc := retention.Config{Deps: jobs.Deps{Pool: pool, Policy: pol, Logger: logger}}
		if edit != nil {
			edit(&rc)
		}
		j, err = retention.New(rc)
	}
	if err != nil {
		return err
	}
	rn := &jobs.Runner{Pool: pool, Logger: logger}
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
	r.slowProbes, r.probeErrors = rep.Counter(jobs.ProbeSlow), rep.Counter(jobs.ProbeErrors)
	r.blocks = rep.Counter(retention.BlocksWalked)
	return nil
}

// letheLog, when not nil (-lethe-log), receives lethe's debug logs.
var letheLog io.Writer

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
	if app == "lethe" && letheWALCompression != "" {
		pc.ConnConfig.RuntimeParams["wal_compression"] = letheWALCompression
	}
	if app == "lethe" && niceLethe != 0 {
		pc.AfterConnect = reniceBackend
	}
	return pgxpool.NewWithConfig(ctx, pc)
}

// letheWALCompression, when not empty (an arm of -c-walcomp), is the
// wal_compression of lethe's sessions (the bench connects as a superuser).
var letheWALCompression string

// withWALCompression runs work with lethe's sessions at wal_compression m.
func withWALCompression(m string, work func() error) error {
	letheWALCompression = m
	defer func() { letheWALCompression = "" }()
	return work()
}

// niceLethe, when not 0 (an arm of -c-nices), is the CPU niceness given to
// lethe's server backends: a diagnostic of how much of the load's tail is
// waiting for a CPU that lethe's backend holds (the cluster runs on the
// bench machine, so its backends are processes the bench may renice).
var niceLethe int

func reniceBackend(ctx context.Context, c *pgx.Conn) error {
	var pid int
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return err
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, pid, niceLethe); err != nil {
		return fmt.Errorf("renice lethe's backend %d: %w", pid, err)
	}
	return nil
}
