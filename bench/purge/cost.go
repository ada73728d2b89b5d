package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"
)

// walPosition returns the server's current WAL position in bytes: read
// before and after a run, the WAL the run wrote (the bench server runs one
// variant at a time, so nothing else writes it).
func walPosition(ctx context.Context, u string) (int64, error) {
	c, err := connect(ctx, u)
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var lsn int64
	err = c.QueryRow(ctx, "SELECT (pg_current_wal_lsn() - '0/0')::int8").Scan(&lsn)
	return lsn, err
}

// costs are one variant's costs per erased subject at one scale, each the
// median over its runs: what the report compares across scales to show
// where the cost per subject grows.
type costs struct {
	wall, serverCPU, ownCPU time.Duration
	walBytes                int64
}

func costsOf(runs []result) costs {
	var wall, server, own []time.Duration
	var wal []int64
	for _, r := range runs {
		n := int64(max(r.subjects, 1))
		wall = append(wall, r.elapsed/time.Duration(n))
		server = append(server, r.serverCPU/time.Duration(n))
		own = append(own, r.cpu/time.Duration(n))
		wal = append(wal, r.walBytes/n)
	}
	return costs{wall: mid(wall), serverCPU: mid(server), ownCPU: mid(own), walBytes: mid(wal)}
}

func mid[T int64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// reportCosts prints, per network, each variant's cost per subject at
// every scale (medians of its runs) and how much it grew from the first
// scale measured: wall time, the server's CPU, lethe's own CPU and the WAL.
// A flat cost per subject shows as a growth of 1.00.
func reportCosts(results []result) {
	fmt.Println()
	fmt.Println("cost per subject (median of the runs), and its growth from the smallest scale:")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scale\tnetwork\tvariant\twall µs\tserver CPU µs\town CPU µs\tWAL bytes\twall growth\tserver CPU growth\tWAL growth\t")
	for _, r := range results {
		c := costsOf(r.runs)
		base, ok := smallestScale(results, r)
		if !ok {
			continue
		}
		b := costsOf(base.runs)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t\n", r.scale, r.network, r.variant,
			c.wall.Microseconds(), c.serverCPU.Microseconds(), c.ownCPU.Microseconds(), c.walBytes,
			ratio(float64(c.wall), float64(b.wall)), ratio(float64(c.serverCPU), float64(b.serverCPU)), ratio(float64(c.walBytes), float64(b.walBytes)))
	}
	tw.Flush()
}

// smallestScale returns the result of r's variant and network at the
// smallest scale measured.
func smallestScale(results []result, r result) (result, bool) {
	var best result
	found := false
	for _, c := range results {
		if c.variant == r.variant && c.network == r.network && (!found || c.scale < best.scale) {
			best, found = c, true
		}
	}
	return best, found
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
