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
		verdict := "false"
		switch {
		case truth[k]:
			s.found++
			verdict = "true"
		case ambiguous[k] || !modeled[c.Table.String()]:
			s.ambiguous++
			verdict = "not scored"
		default:
			s.falsePositives = append(s.falsePositives, k)
		}
		if showCandidates {
			fmt.Printf("  %s candidate %s: %s\n", a.name, k, verdict)
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

// groundTruth returns the table.column pairs that the application's
// models declare as a reference to the subject's model with no foreign key
// in the database: a belongs_to to the subject's model on the other
// table's model, or a has_many or has_one on the subject's model (the
// same reference, declared from the other side). ambiguous holds the
// polymorphic ones (belongs_to polymorphic: true, has_many as:; their
// target is a column's value, which may or may not name the subject's
// model) and those keyed on another column of the subject
// (primary_key:), and modeled the tables some model of the application
// maps (the others belong to gems, whose code is not read: they are not
// scored).
func groundTruth(cat *catalog.Catalog, sub *catalog.Table, dir string) (truth, ambiguous, modeled map[string]bool, err error) {
	models, assocs, err := readModels(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	exists := func(name string) bool {
		_, ok := cat.Lookup(policy.Ident{Raw: name, Parts: []string{name}})
		return ok
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
	subKey := "id"
	if len(sub.PK) == 1 {
		subKey = sub.PK[0]
	}
	for _, a := range assocs {
		a, toSubject, ok := resolve(a, models, assocs, sub.Name, exists)
		if !ok {
			continue
		}
		table := tableOf(models, a.model, exists)
		t, ok := cat.Lookup(policy.Ident{Raw: table, Parts: []string{table}})
		if table == "" || !ok || t.Columns[a.column] == nil || fk[t.String()+"."+a.column] {
			continue
		}
		k := t.String() + "." + a.column
		switch {
		case a.polymorphic, toSubject && a.primaryKey != "" && a.primaryKey != subKey:
			ambiguous[k] = true
		case toSubject:
			truth[k] = true
		}
	}
	return truth, ambiguous, modeled, nil
}

// resolve turns an association into the belongs_to it declares or
// implies: the model whose table holds the column, the column, and
// whether it refers to the subject's table. A belongs_to refers to the
// subject when its class (class_name:, else its name; looked up as Ruby
// does from the model's modules) maps to the subject's table. A has_many
// or has_one on a model of the subject's table implies a belongs_to on
// the other model, the way Rails derives it: the class from class_name:
// or the association's name, the column from foreign_key:, else as:
// (polymorphic), else the column of the inverse_of: belongs_to (Rails 7.1
// and later), else the owner's class name with _id. A through:
// association declares no column; a has_* on another model says nothing
// about the subject; ok is false for those and for classes no model file
// declares.
func resolve(a association, models map[string]*model, assocs []association, subTable string, exists func(string) bool) (b association, toSubject, ok bool) {
	nest := models[a.model].nest
	if a.kind == "belongs_to" {
		a.class = resolveClass(models, a.class, nest)
		return a, a.class != "" && tableOf(models, a.class, exists) == subTable, true
	}
	if a.through || tableOf(models, a.model, exists) != subTable {
		return a, false, false
	}
	owner := a.model
	child := a.class
	switch {
	case child != "":
	case a.kind == "has_many":
		child = singularClass(models, a.name)
	default:
		child = camel(a.name)
	}
	if child = resolveClass(models, child, nest); child == "" {
		return a, false, false
	}
	col := a.column
	switch {
	case col != "":
	case a.as != "":
		col = a.as + "_id"
	case a.inverseOf != "":
		col = a.inverseOf + "_id"
		for _, b := range assocs {
			if b.kind == "belongs_to" && b.model == child && b.name == a.inverseOf {
				col = b.column
			}
		}
	default:
		col = snake(lastPart(owner)) + "_id"
	}
	return association{kind: "belongs_to", model: child, class: owner, column: col, polymorphic: a.as != "", primaryKey: a.primaryKey, file: a.file}, true, true
}

// singularClass returns the class name a has_many's name stands for, the
// last part of a model's name whose plural it is: :diary_entries →
// DiaryEntry.
func singularClass(models map[string]*model, name string) string {
	for _, m := range models {
		if c := lastPart(m.class); plural(snake(c)) == name {
			return c
		}
	}
	return camel(strings.TrimSuffix(name, "s"))
}

func printScores(scores []score) {
	if len(scores) == 0 {
		return
	}
	w := len("schema")
	for _, s := range scores {
		w = max(w, len(s.name))
	}
	fmt.Println("\ndiscovery against the references each application's models declare without a foreign key:")
	fmt.Printf("  %-*s %6s %6s %8s %6s %10s %14s\n", w, "schema", "truth", "found", "recall", "false", "false/10", "not scored")
	var tt, tf, tfp int
	for _, s := range scores {
		fmt.Printf("  %-*s %6d %6d %7.0f%% %6d %10.1f %14d\n", w, s.name, s.truth, s.found, 100*s.recall(), len(s.falsePositives),
			10*float64(len(s.falsePositives))/float64(max(s.found, 1)), s.ambiguous)
		tt, tf, tfp = tt+s.truth, tf+s.found, tfp+len(s.falsePositives)
	}
	fmt.Printf("  %-*s %6d %6d %7.0f%% %6d %10.1f   (targets: recall ≥ 90%%, ≤ 1 false per 10 true)\n", w, "all", tt, tf, 100*float64(tf)/float64(max(tt, 1)), tfp, 10*float64(tfp)/float64(max(tf, 1)))
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
