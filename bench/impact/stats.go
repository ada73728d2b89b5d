package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// phaseStats is what the load saw in the windows of one phase, pooled.
type phaseStats struct {
	n, windows     int
	p50, p99       time.Duration
	readP99        time.Duration // read-only transactions: no WAL flush at commit
	writeP99       time.Duration
	commitP99      time.Duration // of the writes' COMMIT alone
	commitShareP99 float64       // share of the slowest 1% of all transactions' time spent in COMMIT
}

// quantile returns the q-quantile of ds (nearest rank), sorting ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*q))]
}

// statsOf pools the samples of the windows in wins.
func statsOf(samples []sample, wins map[int32]bool) phaseStats {
	var all, reads, writes, commits []time.Duration
	for _, s := range samples {
		if !wins[s.window] {
			continue
		}
		all = append(all, s.lat)
		if s.class == classRead {
			reads = append(reads, s.lat)
		} else {
			writes = append(writes, s.lat)
			commits = append(commits, s.commit)
		}
	}
	st := phaseStats{n: len(all), windows: len(wins), p50: quantile(all, 0.5), p99: quantile(all, 0.99),
		readP99: quantile(reads, 0.99), writeP99: quantile(writes, 0.99), commitP99: quantile(commits, 0.99)}
	var tail, inCommit time.Duration
	for _, s := range samples {
		if wins[s.window] && s.lat >= st.p99 {
			tail += s.lat
			inCommit += s.commit
		}
	}
	if tail > 0 {
		st.commitShareP99 = float64(inCommit) / float64(tail)
	}
	return st
}

// byWindow groups the latencies of the samples by window, reads only
// when readsOnly.
func byWindow(samples []sample, readsOnly bool) map[int32][]time.Duration {
	out := map[int32][]time.Duration{}
	for _, s := range samples {
		if s.window >= 0 && (!readsOnly || s.class == classRead) {
			out[s.window] = append(out[s.window], s.lat)
		}
	}
	return out
}

// pair is a window of lethe's work and the load-alone windows beside it.
type pair struct {
	work   int32
	alones []int32
}

// pooledRatio is the p99 of the pairs' work windows over the p99 of their
// alone windows, each pooled.
func pooledRatio(lat map[int32][]time.Duration, pairs []pair) float64 {
	var work, alone []time.Duration
	seen := map[int32]bool{}
	for _, p := range pairs {
		work = append(work, lat[p.work]...)
		for _, a := range p.alones {
			if !seen[a] {
				seen[a] = true
				alone = append(alone, lat[a]...)
			}
		}
	}
	return ms(quantile(work, 0.99)) / ms(quantile(alone, 0.99))
}

// ratioSpread is a p99 ratio with its spread: pooled over all pairs, a
// 95% bootstrap interval over the pairs (resampled with replacement, the
// unit of noise on a shared machine being a window, not a transaction),
// and the median and range of the ratios of single pairs.
type ratioSpread struct {
	pooled, lo, hi     float64
	median, minR, maxR float64
	pairs              int
}

func spreadOf(lat map[int32][]time.Duration, pairs []pair) ratioSpread {
	r := ratioSpread{pooled: pooledRatio(lat, pairs), pairs: len(pairs)}
	var single []float64
	for _, p := range pairs {
		single = append(single, pooledRatio(lat, []pair{p}))
	}
	r.median, r.minR, r.maxR = median(single), slices.Min(single), slices.Max(single)
	boot := make([]float64, 0, 1000)
	rs := make([]pair, len(pairs))
	for range cap(boot) {
		for i := range rs {
			rs[i] = pairs[rand.N(len(pairs))]
		}
		boot = append(boot, pooledRatio(lat, rs))
	}
	slices.Sort(boot)
	r.lo, r.hi = boot[len(boot)*25/1000], boot[len(boot)*975/1000]
	return r
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// verdict says whether a ratio's interval is within target, beyond it,
// or straddles it.
func verdict(r ratioSpread, target float64) string {
	switch {
	case r.pairs < 3:
		return fmt.Sprintf("undecidable: %d window(s), too few for an interval", r.pairs)
	case r.hi <= target:
		return fmt.Sprintf("met (whole interval <= %.1fx)", target)
	case r.lo > target:
		return fmt.Sprintf("NOT met (whole interval > %.1fx)", target)
	default:
		return fmt.Sprintf("undecidable at this spread (interval straddles %.1fx)", target)
	}
}

func (r ratioSpread) String() string {
	return fmt.Sprintf("%.2f (95%% bootstrap %.2f-%.2f; per window median %.2f, range %.2f-%.2f; %d windows)",
		r.pooled, r.lo, r.hi, r.median, r.minR, r.maxR, r.pairs)
}
