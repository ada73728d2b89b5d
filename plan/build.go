package plan

import (
	"context"
	"sort"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// Build checks p against the database and orders its steps. Every error is a
// *policy.Error naming each problem. It is [BuildFrom] for the policy's
// subject:, tables: and ignore: sections.
func Build(ctx context.Context, q catalog.Querier, p *policy.Policy, opts ...Option) (*Plan, error) {
	cat, err := catalog.Load(ctx, q)
	if err != nil {
		return nil, err
	}
	return BuildOn(ctx, q, cat, p, opts...)
}

// BuildOn is [Build] against a catalog already read (lethe check reads it
// once for the plan and for discovery).
func BuildOn(ctx context.Context, q catalog.Querier, cat *catalog.Catalog, p *policy.Policy, opts ...Option) (*Plan, error) {
	pl, err := BuildFrom(ctx, q, cat, p.Subject, Rules{Path: p.Path, Tables: p.Tables, Ignore: p.Ignore, References: p.References}, opts...)
	if err != nil {
		return nil, err
	}
	pl.Policy = p
	return pl, nil
}

// Rules are the rules of the tables that refer to a plan's root.
type Rules struct {
	// Path is the policy file they come from, named in errors.
	Path string
	// Tables are the rules for the tables that hold the root's data.
	Tables []policy.Rule
	// Ignore lists tables that refer to the root but need no action.
	Ignore []policy.Ignore
	// References declares references that have no foreign key.
	References []policy.Reference
}

// BuildFrom checks root and rules against cat and orders their steps:
// root is the table whose rows go (or are tombstoned) last, in the shape
// of a subject: section (the purge's subject table, or an organization
// table of the orphans job), and rules say what happens to the rows that
// refer to it. q reads the values the checks need. Every error is a
// *policy.Error naming each problem; the plan's Policy is nil.
func BuildFrom(ctx context.Context, q catalog.Querier, cat *catalog.Catalog, root policy.Subject, rules Rules, opts ...Option) (*Plan, error) {
	b := &builder{root: root, rules: rules, cat: cat, perr: &policy.Error{Path: rules.Path}, ctx: ctx, q: q}
	for _, o := range opts {
		o(b)
	}
	pl := b.build()
	if pl.Final != nil && b.perr.Err() == nil {
		b.warnTextMatch(pl)
	}
	// The literals of the rules that resolved are checked even when others
	// did not, so that one run names every problem.
	if err := b.checkValues(pl); err != nil {
		return nil, err
	}
	if err := b.perr.Err(); err != nil {
		sort.SliceStable(b.perr.Problems, func(i, j int) bool { return b.perr.Problems[i].Line < b.perr.Problems[j].Line })
		return nil, err
	}
	return pl, nil
}

type builder struct {
	ctx   context.Context
	q     catalog.Querier
	root  policy.Subject
	rules Rules
	cat   *catalog.Catalog
	perr  *policy.Error

	absent []absentRef // set by [Absent]
	// fks are the catalog's foreign keys and the declared references.
	fks []*catalog.FK
	// lookup is the subject row by key, the via of on: rules.
	lookup *Step
}
