package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
)

// pairsOf are the work windows of arm with the alone windows beside each.
func (run *scenarioRun) pairsOf(arm int) []pair {
	var out []pair
	for i, w := range run.windows {
		if w.arm != arm {
			continue
		}
		p := pair{work: int32(i)}
		for _, j := range []int{i - 1, i + 1} {
			if j >= 0 && j < len(run.windows) && run.windows[j].arm == -1 {
				p.alones = append(p.alones, int32(j))
			}
		}
		if len(p.alones) > 0 {
			out = append(out, p)
		}
	}
	return out
}

func (run *scenarioRun) windowSet(arm int) map[int32]bool {
	out := map[int32]bool{}
	for i, w := range run.windows {
		if w.arm == arm {
			out[int32(i)] = true
		}
	}
	return out
}

// print writes the scenario's table, its p99 ratios with their spread and
// verdicts, and lethe's throughput.
func (run *scenarioRun) print(o options) {
	fmt.Printf("\n## %s: %d windows of %s, %s guard after each work window, load %d tx/s, %d load errors\n",
		run.name, len(run.windows), o.window, o.guard, o.rate, run.errs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "phase\twindows\ttx\tp50 ms\tp99 ms\treads p99\twrites p99\tCOMMIT p99\tCOMMIT share of p99 tail\t\n")
	row := func(label string, st phaseStats) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f%%\t\n", label, st.windows, st.n, ms(st.p50), ms(st.p99),
			ms(st.readP99), ms(st.writeP99), ms(st.commitP99), 100*st.commitShareP99)
	}
	row("a load alone", statsOf(run.samples, run.windowSet(-1)))
	first := map[int32]bool{}
	for i, w := range run.windows {
		if w.first {
			first[int32(i)] = true
		}
	}
	row("a' alone, before any work", statsOf(run.samples, first))
	for i, a := range run.arms {
		row(a.label, statsOf(run.samples, run.windowSet(i)))
	}
	tw.Flush()
	all, reads := byWindow(run.samples, false), byWindow(run.samples, true)
	for i, a := range run.arms {
		pairs := run.pairsOf(i)
		if len(pairs) == 0 {
			continue
		}
		label := strings.Fields(a.label)[0]
		ra, rr := spreadOf(all, pairs), spreadOf(reads, pairs)
		fmt.Printf("p99 %s/a, all transactions: %s\n", label, ra)
		if !a.once {
			fmt.Printf("  target <= 1.5: %s\n", verdict(ra, 1.5))
		}
		fmt.Printf("p99 %s/a, reads only:       %s\n", label, rr)
		if !a.once {
			fmt.Printf("  target <= 1.5: %s\n", verdict(rr, 1.5))
		}
	}
	run.printThroughput()
}

// printThroughput prints lethe's units/s per arm over its windows and, with
// two arms (governor on and off, or two governor-on variants), their ratio
// pooled and per pair of consecutive windows.
func (run *scenarioRun) printThroughput() {
	rates := make([][]float64, len(run.arms))
	for i, a := range run.arms {
		var tot variantResult
		var longest int64
		for _, w := range run.windows {
			if w.arm == i {
				tot.units += w.result.units
				tot.elapsed += w.result.elapsed
				tot.throttled += w.result.throttled
				tot.slowProbes += w.result.slowProbes
				tot.probeErrors += w.result.probeErrors
				longest = max(longest, w.result.longestMS)
				rates[i] = append(rates[i], w.result.rate())
			}
		}
		fmt.Printf("lethe %s: %d units in %.1f s of work windows, %.0f units/s; longest transaction %d ms, throttled %.1f s; %d slow latency probes, %d probe errors\n",
			strings.Fields(a.label)[0], tot.units, tot.elapsed.Seconds(), tot.rate(), longest, tot.throttled, tot.slowProbes, tot.probeErrors)
		rates[i] = append(rates[i], tot.rate()) // last: the pooled rate
	}
	if len(rates) != 2 || len(rates[0]) < 2 || len(rates[1]) < 2 {
		return
	}
	var per []float64
	for k := 0; k < min(len(rates[0]), len(rates[1]))-1; k++ {
		per = append(per, rates[0][k]/rates[1][k])
	}
	a, b := rates[0][len(rates[0])-1], rates[1][len(rates[1])-1]
	// The 0.8 target is for the governor against no governor; two
	// governor-on arms (-b-arms, -c-shares, ...) are only compared.
	what, target := "governor on/off", "; target >= 0.8"
	if !strings.Contains(run.arms[1].label, "governor off") {
		what = strings.Fields(run.arms[0].label)[0] + " / " + strings.Fields(run.arms[1].label)[0]
		target = ""
	}
	fmt.Printf("lethe throughput %s: %.2f (per window pair median %.2f, range %.2f-%.2f, %d pairs%s)\n",
		what, a/b, median(per), minOf(per), maxOf(per), len(per), target)
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// writeSamples appends run's load transactions to the CSV file path
// (-samples; nothing when empty): scenario, window, arm of the window (-1
// alone), class (0 read, 1 update, 2 insert), when it was due (Unix µs),
// its latency and its COMMIT's (µs). With -lethe-log's timestamps it says
// which of lethe's steps the slow transactions met.
func (run *scenarioRun) writeSamples(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	name := strings.Fields(run.name)[0]
	for _, s := range run.samples {
		arm := -1
		if s.window >= 0 && int(s.window) < len(run.windows) {
			arm = run.windows[s.window].arm
		}
		fmt.Fprintf(w, "%s,%d,%d,%d,%d,%d,%d\n", name, s.window, arm, s.class, s.due.UnixMicro(), s.lat.Microseconds(), s.commit.Microseconds())
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
