package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// median returns the run with the median rate.
func median(runs []result) result {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b result) int { return cmp.Compare(a.rate(), b.rate()) })
	return sorted[len(sorted)/2]
}

func report(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Println("median of the runs of each variant:")
	fmt.Fprintln(tw, "scale\tnetwork\tvariant\tsubjects\tsubjects/s\tlongest tx\tpeak RSS")
	for _, r := range results {
		rss := "-"
		if r.rssKiB > 0 {
			rss = fmt.Sprintf("%.1f MiB", float64(r.rssKiB)/1024)
		}
		lt := "-"
		if r.longestTx > 0 {
			lt = r.longestTx.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%.0f\t%s\t%s\n", r.scale, r.network, r.variant, r.subjects, r.rate(), lt, rss)
	}
	tw.Flush()
	fmt.Println()
	find := func(scale int, network, variant string) (result, bool) {
		for _, r := range results {
			if r.scale == scale && r.network == network && r.variant == variant {
				return r, true
			}
		}
		return result{}, false
	}
	for _, r := range results {
		if !strings.HasPrefix(r.variant, "lethe") {
			continue
		}
		line := fmt.Sprintf("scale %-3d %-12s %-12s", r.scale, r.network, r.variant)
		if a, ok := find(r.scale, r.network, "naive"); ok {
			line += fmt.Sprintf(" lethe/naive = %6.1f", r.rate()/a.rate())
		}
		if c, ok := find(r.scale, r.network, "set-based"); ok {
			line += fmt.Sprintf("   lethe/set-based = %.2f", r.rate()/c.rate())
		}
		fmt.Println(line)
	}
}

// cpuPerSubject is the CPU time, the server's and lethe's own, per erased
// subject: what the run cost the machine, which its load changes far less
// than the wall time.
func (r result) cpuPerSubject() time.Duration {
	return (r.serverCPU + r.cpu) / time.Duration(max(r.subjects, 1))
}

// reportScales prints, per network, how lethe and the set-based
// transaction keep up as the data grows.
func reportScales(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scale\tusers\tnetwork\tvariant\tlethe subjects/s\tset-based subjects/s\tratio\tlethe µs/subject\tset-based µs/subject\tlethe CPU µs/subject\tset-based CPU µs/subject\t")
	for _, r := range results {
		if !strings.HasPrefix(r.variant, "lethe") {
			continue
		}
		for _, c := range results {
			if c.variant == "set-based" && c.scale == r.scale && c.network == r.network {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.0f\t%.0f\t%.2f\t%d\t%d\t%d\t%d\t\n", r.scale, fmt.Sprint(r.users), r.network, r.variant, r.rate(), c.rate(), r.rate()/c.rate(),
					r.perSubject().Microseconds(), c.perSubject().Microseconds(), r.cpuPerSubject().Microseconds(), c.cpuPerSubject().Microseconds())
			}
		}
	}
	tw.Flush()
	for _, r := range results {
		for _, c := range results {
			if strings.HasPrefix(r.variant, "lethe") && c.variant == "set-based" && c.scale == r.scale && c.network == r.network && len(r.runs) == len(c.runs) {
				fmt.Printf("scale %d %s: %s/set-based run by run (each against the set-based run of the same round; rounds start with each variant in turn):", r.scale, r.network, r.variant)
				for i := range r.runs {
					fmt.Printf(" %.2f", r.runs[i].rate()/c.runs[i].rate())
				}
				fmt.Println()
			}
		}
	}
}
