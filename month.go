package main

import (
	"fmt"
	"io"
	"time"

	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/schedule"
	"github.com/robfig/cron/v3"
)

// GDPR Art. 12(3) gives one month to act on an erasure request. lethe warns
// when the policy cannot erase within that month less monthMargin, the time
// kept to notice a failure and act.
const (
	monthLimit  = 30 * 24 * time.Hour
	monthMargin = 5 * 24 * time.Hour
)

// warnMonth writes a warning to w when the purge's grace period, plus the
// longest wait between two purge runs when LETHE_SCHEDULE names the purge,
// leaves no room within the month. It never fails: the policy is valid,
// only its timing is doubtful.
func warnMonth(w io.Writer, cfg *Config, pol *policy.Policy) {
	grace := time.Duration(pol.Subject.Grace)
	if grace <= 0 {
		return // no purge in this policy
	}
	var gap time.Duration
	if cfg.Schedule != "" {
		entries, err := schedule.ParseEntries(cfg.Schedule)
		if err != nil {
			fmt.Fprintf(w, "lethe: warning: LETHE_SCHEDULE: %v\n", err)
			return
		}
		for _, e := range entries {
			if e.Name != "purge" {
				continue
			}
			if gap, err = longestGap(e.Spec, cfg.ScheduleSeconds, time.Now()); err != nil {
				fmt.Fprintf(w, "lethe: warning: LETHE_SCHEDULE: purge: %v\n", err)
				return
			}
		}
	}
	if grace+gap <= monthLimit-monthMargin {
		return
	}
	what := fmt.Sprintf("subject.grace %s", policy.Duration(grace))
	if gap > 0 {
		what += fmt.Sprintf(" plus up to %s between purge runs (LETHE_SCHEDULE)", policy.Duration(gap))
	}
	fmt.Fprintf(w, "lethe: warning: %s leaves no room within the one month GDPR Art. 12(3) allows to act on an erasure request "+
		"(lethe keeps %s of it to notice a failure and act): a request is erased no sooner than that after it is made. "+
		"Shorten the grace period, or agree with your data protection officer how people are told of the extension.\n",
		what, policy.Duration(monthMargin))
}

// longestGap returns the longest time between two consecutive runs of the
// cron spec (parsed as `lethe schedule` parses it) over the year after
// from. A schedule that fires more often than every few minutes is cut
// short: its gaps are short too, unless it fires only part of the year,
// which lethe does not try to find.
func longestGap(spec string, seconds bool, from time.Time) (time.Duration, error) {
	fields := cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor
	if seconds {
		fields |= cron.Second
	}
	sched, err := cron.NewParser(fields).Parse(spec)
	if err != nil {
		return 0, fmt.Errorf("schedule %q: %w", spec, err)
	}
	const maxRuns = 200_000
	end := from.AddDate(1, 0, 0)
	prev := sched.Next(from)
	if prev.IsZero() {
		return 0, fmt.Errorf("schedule %q never runs", spec)
	}
	var gap time.Duration
	for i := 0; i < maxRuns && prev.Before(end); i++ {
		next := sched.Next(prev)
		if next.IsZero() {
			break
		}
		gap = max(gap, next.Sub(prev))
		prev = next
	}
	return gap, nil
}
