package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/discover"
	"github.com/lethe-project/lethe/policy"
)

// score is discovery's result on one application.
type score struct {
	name                    string
	truth, found, ambiguous int
	falsePositives, missed  []string
}

func (s score) recall() float64 { return float64(s.found) / float64(max(s.truth, 1)) }

// scoreApp compares the references discovery finds to the subject table
// with those the application's models declare and no foreign key does.
func scoreApp(ctx context.Context, url string, a app) (score, error) {
	p, err := pool(ctx, url)
	if err != nil {
		return score{}, err
	}
	defer p.Close()
	cat, err := catalog.Load(ctx, p)
	if err != nil {
		return score{}, err
	}
	sub, ok := cat.Lookup(policy.Ident{Raw: a.subject, Parts: []string{a.subject}})
	key := "id" // sharetribe's people has no primary key, only a unique id
	if ok && len(sub.PK) == 1 {
		key = sub.PK[0]
	}
	if !ok || sub.Columns[key] == nil {
		return score{}, fmt.Errorf("no subject table %s with a key", a.subject)
	}
	truth, ambiguous, modeled, err := groundTruth(cat, sub, a.models)
	if err != nil {
		return score{}, err
	}
	res, err := discover.Find(ctx, p, discover.Input{Catalog: cat, Subject: discover.Target{Table: sub, Key: sub.Columns[key]}}, discover.Options{})
	if err != nil {
		return score{}, err
	}
	s := score{name: a.name, truth: len(truth)}
	predicted := map[string]bool{}
	for _, c := range res.Candidates {
		if c.Kind != discover.Reference || c.To != sub {
			continue
		}
		k := c.Table.String() + "." + c.Column.Name
		predicted[k] = true
		switch {
		case truth[k]:
			s.found++
		case ambiguous[k] || !modeled[c.Table.String()]:
			s.ambiguous++
		default:
			s.falsePositives = append(s.falsePositives, k)
		}
	}
	for k := range truth {
		if !predicted[k] {
			s.missed = append(s.missed, k)
		}
	}
	sort.Strings(s.missed)
	return s, nil
}

// groundTruth returns the table.column pairs that a belongs_to declares
// as a reference to the subject's model with no foreign key in the
// database; ambiguous holds the polymorphic ones (their target is a
// column's value, which may or may not name the subject's model), and
// modeled the tables some model of the application maps (the others
// belong to gems, whose code is not read: they are not scored).
func groundTruth(cat *catalog.Catalog, sub *catalog.Table, dir string) (truth, ambiguous, modeled map[string]bool, err error) {
	models, assocs, err := readModels(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	exists := func(name string) bool {
		_, ok := cat.Lookup(policy.Ident{Raw: name, Parts: []string{name}})
		return ok
	}
	subClass := ""
	for _, m := range models {
		if tableOf(models, m.class, exists) == sub.Name && (subClass == "" || len(m.class) < len(subClass)) {
			subClass = m.class
		}
	}
	fk := map[string]bool{}
	for _, f := range cat.FKs {
		fk[f.Child.String()+"."+strings.Join(f.ChildCols, ",")] = true
	}
	truth, ambiguous, modeled = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, m := range models {
		if t := tableOf(models, m.class, exists); t != "" {
			modeled[t] = true
		}
	}
	for _, a := range assocs {
		table := tableOf(models, a.model, exists)
		if table == "" {
			continue
		}
		t, ok := cat.Lookup(policy.Ident{Raw: table, Parts: []string{table}})
		if !ok || t.Columns[a.column] == nil || fk[t.String()+"."+a.column] {
			continue
		}
		k := t.String() + "." + a.column
		switch {
		case a.polymorphic:
			ambiguous[k] = true
		case a.class == subClass:
			truth[k] = true
		}
	}
	return truth, ambiguous, modeled, nil
}

func printScores(scores []score) {
	if len(scores) == 0 {
		return
	}
	fmt.Println("\ndiscovery against the references each application's models declare without a foreign key:")
	fmt.Printf("  %-10s %6s %6s %8s %6s %10s %14s\n", "schema", "truth", "found", "recall", "false", "false/10", "not scored")
	var tt, tf, tfp int
	for _, s := range scores {
		fmt.Printf("  %-10s %6d %6d %7.0f%% %6d %10.1f %14d\n", s.name, s.truth, s.found, 100*s.recall(), len(s.falsePositives),
			10*float64(len(s.falsePositives))/float64(max(s.found, 1)), s.ambiguous)
		tt, tf, tfp = tt+s.truth, tf+s.found, tfp+len(s.falsePositives)
	}
	fmt.Printf("  %-10s %6d %6d %7.0f%% %6d %10.1f   (targets: recall ≥ 90%%, ≤ 1 false per 10 true)\n", "all", tt, tf, 100*float64(tf)/float64(max(tt, 1)), tfp, 10*float64(tfp)/float64(max(tf, 1)))
	for _, s := range scores {
		if len(s.missed) > 0 {
			fmt.Printf("  %s missed: %s\n", s.name, strings.Join(s.missed, ", "))
		}
		if len(s.falsePositives) > 0 {
			sort.Strings(s.falsePositives)
			fmt.Printf("  %s false: %s\n", s.name, strings.Join(s.falsePositives, ", "))
		}
	}
}
