package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/lethe-project/lethe/jobs"
)

// healthy measures lethe's throughput with the governor on (the binary's
// defaults, latency probe included) and off on a healthy database: no
// load beside it. Each run is a whole purge or retention on a fresh copy;
// the arms alternate which goes first in each round. The latency probe
// paces only while the application has sessions at work, so here it
// should cost only its probes.
func healthy(ctx context.Context, s *server, o options, pol string) error {
	on := jobs.Limits{AllowLarge: true, TimeBudget: time.Hour, Governor: jobs.Governor{LatencyProbe: true}}
	off := on
	off.Governor.Off = true
	fmt.Printf("\n## h: lethe's throughput on a healthy database (no load), governor on/off, %d rounds\n", o.rounds)
	for _, job := range []string{"purge", "retention"} {
		var rates [2][]float64
		var tot [2]variantResult
		for round := range o.rounds {
			for k := range 2 {
				arm := (k + round) % 2
				l := []jobs.Limits{on, off}[arm]
				var r variantResult
				if err := onFreshCopy(ctx, s, "tmpl_plain", func(url string) error {
					p, err := newPool(ctx, url, "app", 2)
					if err != nil {
						return err
					}
					defer p.Close()
					return runLethe(ctx, p, pol, job, l, &r)
				}); err != nil {
					return fmt.Errorf("healthy %s: %w", job, err)
				}
				rates[arm] = append(rates[arm], r.rate())
				tot[arm].units += r.units
				tot[arm].elapsed += r.elapsed
				tot[arm].throttled += r.throttled
				fmt.Printf("  %s round %d governor %s: %d units in %.1f s, %.0f units/s, throttled %.1f s, %d slow probes\n",
					job, round+1, []string{"on", "off"}[arm], r.units, r.elapsed.Seconds(), r.rate(), r.throttled, r.slowProbes)
			}
		}
		var per []string
		for i := range rates[0] {
			per = append(per, fmt.Sprintf("%.2f", rates[0][i]/rates[1][i]))
		}
		fmt.Printf("%s throughput governor on/off, healthy: %.2f (on %.0f/s, off %.0f/s; per round %s; target >= 0.8)\n",
			job, tot[0].rate()/tot[1].rate(), tot[0].rate(), tot[1].rate(), strings.Join(per, ", "))
	}
	return nil
}

// onFreshCopy runs fn on a fresh copy of tmpl whose pages are on disk.
func onFreshCopy(ctx context.Context, s *server, tmpl string, fn func(url string) error) error {
	db := "bench_healthy"
	if _, err := s.admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY", db, tmpl)); err != nil {
		return err
	}
	defer s.admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE "+db+" WITH (FORCE)")
	if _, err := s.admin.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	syscall.Sync()
	return fn(s.URLFor(db))
}
