package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/bench/internal/servercpu"
	"github.com/lethe-project/lethe/jobs"
)

// replicaLag starts a streaming replica of the cluster and deletes the old
// activity rows on fresh copies: lethe's retention with the governor (its
// replica URL given), the same without the governor, and one DELETE,
// sampling the replica's replay lag every 100 ms; it prints the largest lag
// of each. The three take turns over o.rounds rounds, in reverse order
// every other round, so that the shared machine's slow swings fall on all.
func replicaLag(ctx context.Context, s *server, o options, pol string) error {
	standby, err := s.NewStandby(nil)
	if err != nil {
		return err
	}
	defer standby.Close()
	fmt.Printf("\n# replica lag: streaming replica on port %d, governor LETHE_MAX_REPLICA_LAG=%s, %d rounds\n", standby.Port, o.maxLag, max(o.rounds, 1))
	limits := jobs.Limits{AllowLarge: true, TimeBudget: time.Hour,
		Governor: jobs.Governor{MaxReplicaLag: o.maxLag, ReplicaURLs: []string{standby.AdminURL}, MaxThrottle: time.Hour}}
	off := limits
	off.Governor = jobs.Governor{Off: true}
	variants := []variant{
		{name: "lethe retention, governor on", tmpl: "tmpl_plain", fn: func(ctx context.Context, p *pgxpool.Pool, pol string, r *variantResult) error {
			return runLethe(ctx, p, pol, "retention", limits, r)
		}},
		{name: "lethe retention, governor off", tmpl: "tmpl_plain", fn: func(ctx context.Context, p *pgxpool.Pool, pol string, r *variantResult) error {
			return runLethe(ctx, p, pol, "retention", off, r)
		}},
		{name: "one DELETE", tmpl: "tmpl_plain", fn: oneDelete},
	}
	worst := map[string]time.Duration{}
	for round := range max(o.rounds, 1) {
		order := slices.Clone(variants)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, v := range order {
			l, err := lagOnce(ctx, s, standby.AdminURL, v, pol, o.maxLag)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			worst[v.name] = max(worst[v.name], l.max)
			fmt.Printf("  round %d %-30s %d rows in %s: largest replay lag %s, %s of samples above %s, throttled %.1f s, load %s\n",
				round+1, v.name, l.r.units, l.r.elapsed.Round(time.Millisecond), l.max.Round(time.Millisecond), l.over, o.maxLag, l.r.throttled, l.load)
		}
	}
	for _, v := range variants {
		fmt.Printf("  %-30s largest replay lag over all rounds %s\n", v.name, worst[v.name].Round(time.Millisecond))
	}
	return nil
}

// lagRun is one variant's deletion under the replica's watch.
type lagRun struct {
	r    variantResult
	max  time.Duration
	over string
	load string
}

// lagOnce runs v on a fresh copy of its template while sampling the
// replica's lag, until the replica has replayed everything.
func lagOnce(ctx context.Context, s *server, standbyURL string, v variant, pol string, maxLag time.Duration) (lagRun, error) {
	db := "bench_lag"
	if _, err := s.admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY", db, v.tmpl)); err != nil {
		return lagRun{}, err
	}
	defer func() { _, _ = s.admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)") }()
	pool, err := newPool(ctx, s.URLFor(db), "app", 4)
	if err != nil {
		return lagRun{}, err
	}
	defer pool.Close()
	if err := caughtUp(ctx, s, standbyURL); err != nil {
		return lagRun{}, err
	}
	sampler := startLagSampler(standbyURL)
	var l lagRun
	err = v.fn(ctx, pool, pol, &l.r)
	// Until the replica has replayed everything, so the tail counts.
	if cerr := caughtUp(ctx, s, standbyURL); err == nil {
		err = cerr
	}
	l.max, l.over = sampler.stop(maxLag)
	l.load = servercpu.LoadAverage()
	return l, err
}

// caughtUp waits until the replica has replayed the primary's WAL as of now.
func caughtUp(ctx context.Context, s *server, url string) error {
	var lsn string
	if err := s.admin.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for {
		var done bool
		if err := c.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done); err != nil || done {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lagSampler struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	samples []time.Duration
}

// startLagSampler reads the replica's own lag (now minus the last
// replayed commit while WAL waits to be replayed) every 100 ms.
func startLagSampler(url string) *lagSampler {
	ctx, cancel := context.WithCancel(context.Background())
	l := &lagSampler{cancel: cancel}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		for ctx.Err() == nil {
			var secs float64
			if err := c.QueryRow(ctx, `SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
				ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8`).Scan(&secs); err == nil {
				l.samples = append(l.samples, time.Duration(secs*float64(time.Second)))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return l
}

func (l *lagSampler) stop(limit time.Duration) (time.Duration, string) {
	l.cancel()
	l.wg.Wait()
	var m time.Duration
	over := 0
	for _, d := range l.samples {
		m = max(m, d)
		if d > limit {
			over++
		}
	}
	return m, fmt.Sprintf("%d/%d", over, len(l.samples))
}
