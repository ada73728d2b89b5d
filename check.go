package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/export"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// checkReport is what lethe check found; --format json prints it as is
// (docs/check-json.md documents the fields).
type checkReport struct {
	Policy    string          `json:"policy"`
	SHA256    string          `json:"sha256"`
	Valid     bool            `json:"valid"`
	Strict    bool            `json:"strict"`
	Checked   []string        `json:"checked"`
	Problems  []checkItem     `json:"problems"`
	Warnings  []checkItem     `json:"warnings"`
	Discovery *discoveryStats `json:"discovery,omitempty"`
	Plan      *planJSON       `json:"plan,omitempty"`
}

// checkItem is one problem or warning.
type checkItem struct {
	Kind       string   `json:"kind"`
	Line       int      `json:"line,omitempty"`
	Table      string   `json:"table,omitempty"`
	Column     string   `json:"column,omitempty"`
	Message    string   `json:"message"`
	Suggestion string   `json:"suggestion,omitempty"`
	References string   `json:"references,omitempty"`
	Confidence *float64 `json:"confidence,omitempty"`
	Sampled    int      `json:"sampled,omitempty"`
	Found      int      `json:"found,omitempty"`
}

// Kinds of checkItem.
const (
	kindPolicy      = "policy"       // a problem of the policy against the database
	kindReference   = "reference"    // a discovered reference nothing classifies
	kindPersonal    = "personal"     // discovered personal data nothing classifies
	kindStaleIgnore = "stale_ignore" // an ignore: entry that matches nothing
	kindUnindexed   = "unindexed"    // a match column with no index
	kindExport      = "export"       // lethe export's check
	kindSchedule    = "schedule"     // the grace period and schedule
	kindJournal     = "journal"      // the erasure journal's configuration
	kindPlan        = "plan"         // the planner's: an ignore that covers more than it names, a text match that holds no keys
)

// strictKinds are the warnings --strict turns into problems.
var strictKinds = map[string]bool{kindReference: true, kindPersonal: true, kindStaleIgnore: true, kindPlan: true}

// check validates every section of the policy against the database, the
// purge's plan first, looks for what the policy does not classify, and
// prints the plan; nothing is changed. The problems of every section are
// reported together, by table.
func check(ctx context.Context, cfg *Config, deps jobs.Deps, stdout, stderr io.Writer) int {
	pool, pol := deps.Pool, deps.Policy
	ph := newPhases(deps.Logger, "check")
	rep := &checkReport{Policy: pol.Path, SHA256: pol.Digest, Strict: cfg.Strict}
	problems := &policy.Error{Path: pol.Path}
	// fail reports an error that is not a list of policy problems (the
	// database went away): it stops the check.
	collect := func(section string, err error) (fail bool) {
		var pe *policy.Error
		switch {
		case err == nil:
		case errors.As(err, &pe):
			problems.Problems = append(problems.Problems, pe.Problems...)
		case jobs.ExitCode(err) == jobs.ExitConfig:
			problems.Add(0, "%s: %v", section, err)
		default:
			return true
		}
		return false
	}
	var pl *plan.Plan
	var cat *catalog.Catalog
	var disc *discovery
	if pol.HasSubject() {
		var err error
		if cat, err = catalog.Load(ctx, pool); err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitCode(err)
		}
		ph.done("catalog")
		// Discovery's samples wait on the server: they run while the plan
		// is built and the other sections are checked.
		disc = startDiscovery(ctx, pool, pol, cat, deps.Logger)
		defer disc.wait()
		if pl, err = plan.BuildOn(ctx, pool, cat, pol); collect("subject", err) {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitCode(err)
		}
		rep.Checked = append(rep.Checked, "subject and tables")
		ph.done("plan")
	}
	if pl != nil {
		warnings, err := export.Check(pl)
		if collect("export", err) {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitCode(err)
		}
		for _, w := range warnings {
			rep.Warnings = append(rep.Warnings, checkItem{Kind: kindExport, Message: w})
		}
		for _, w := range pl.Warnings {
			rep.Warnings = append(rep.Warnings, checkItem{Kind: kindPlan, Message: w})
		}
	}
	registry := jobsFor(cfg)
	for _, spec := range registry.Specs() {
		if !spec.Has(pol) {
			continue
		}
		job, err := registry.Build(spec.Name, deps)
		checker, ok := job.(jobs.Checker)
		if err == nil && !ok {
			continue // its part is checked above, with the plan
		}
		if err == nil {
			err = checker.Check(ctx)
		}
		if collect(spec.Name, err) {
			fmt.Fprintf(stderr, "lethe: %s: %v\n", spec.Name, err)
			return jobs.ExitCode(err)
		}
		rep.Checked = append(rep.Checked, spec.Name)
		ph.done("check " + spec.Name)
	}
	if disc != nil {
		found, stats, err := disc.warnings(ctx, pool, pl)
		if err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitCode(err)
		}
		rep.Discovery = stats
		rep.Warnings = append(rep.Warnings, found...)
		rep.Checked = append(rep.Checked, "discovery")
		ph.done("discovery")
	}
	for _, w := range []struct {
		kind string
		warn func(io.Writer, *Config, *policy.Policy)
	}{{kindSchedule, warnMonth}, {kindJournal, warnJournal}} {
		kind, warn := w.kind, w.warn
		var buf bytes.Buffer
		warn(&buf, cfg, pol)
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line != "" {
				rep.Warnings = append(rep.Warnings, checkItem{Kind: kind, Message: strings.TrimPrefix(line, "lethe: warning: ")})
			}
		}
	}
	dedupe(problems)
	for _, p := range problems.Problems {
		rep.Problems = append(rep.Problems, checkItem{Kind: kindPolicy, Line: p.Line, Table: problemTable(p.Msg), Message: p.Msg})
	}
	if cfg.Strict {
		var keep []checkItem
		for _, w := range rep.Warnings {
			if strictKinds[w.Kind] {
				rep.Problems = append(rep.Problems, w)
			} else {
				keep = append(keep, w)
			}
		}
		rep.Warnings = keep
	}
	if len(rep.Problems) > 0 && cat != nil {
		suggestCoverage(rep, cat, pol)
	}
	rep.Valid = len(rep.Problems) == 0
	if rep.Valid && pl != nil {
		rep.Plan = planToJSON(pl)
	}
	if cfg.CheckFormat == "json" {
		if err := writeJSON(stdout, rep); err != nil {
			fmt.Fprintf(stderr, "lethe: %v\n", err)
			return jobs.ExitFailed
		}
	} else {
		writeCheckText(stdout, stderr, rep, pl)
	}
	if !rep.Valid {
		return jobs.ExitConfig
	}
	return 0
}

// dedupe sorts problems by line and drops repeats: the inactivity check
// builds the purge's plan too.
func dedupe(e *policy.Error) {
	sort.SliceStable(e.Problems, func(i, j int) bool { return e.Problems[i].Line < e.Problems[j].Line })
	seen := map[policy.Problem]bool{}
	out := e.Problems[:0]
	for _, p := range e.Problems {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	e.Problems = out
}
