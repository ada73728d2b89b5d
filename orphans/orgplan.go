package orphans

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// PlanOrganization checks and orders the tables of one organizations:
// rule with package plan, the organization table as the root: the same
// checks of tables, columns, set: values and foreign-key coverage as the
// purge, and the same ordering, children first. It returns the steps in
// execution order, the organization row last. The members table's key
// into the organizations needs no rule, whatever its ON DELETE action: an
// organization is only removed when that table has no row for it, so no
// step acts on that table. path names the policy file in errors, which are
// a *policy.Error.
func PlanOrganization(ctx context.Context, q catalog.Querier, cat *catalog.Catalog, path string, r *policy.OrgRule) ([]*plan.Step, error) {
	root := policy.Subject{Table: r.Table, Key: r.Key, RequestedAt: r.CreatedAt, Grace: r.MinAge, Final: policy.Delete, Line: r.Line}
	pl, err := plan.BuildFrom(ctx, q, cat, root, plan.Rules{Path: path, Tables: r.Tables, Ignore: r.Ignore},
		plan.Absent(r.Members.Table, r.Members.Match.Column()))
	if err != nil {
		return nil, err
	}
	members, _ := cat.Lookup(r.Members.Table)
	var steps []*plan.Step
	for _, s := range pl.Steps {
		if s.Table != members || s.Rule != nil {
			steps = append(steps, s) // not an ignore: entry's cascade on the members table: there is no member row
		}
	}
	return append(steps, pl.Final), nil
}

func (o *orgTarget) buildSQL() {
	r := o.rule
	t := o.table.Ident()
	k := "o." + o.key.Ident()
	created := "o." + pgx.Identifier{r.CreatedAt.Column()}.Sanitize()
	orphaned := fmt.Sprintf("%s <= now() - $1::interval AND NOT EXISTS (SELECT 1 FROM %s m WHERE m.%s = %s)",
		created, o.members.Ident(), pgx.Identifier{r.Members.Match.Column()}.Sanitize(), k)
	sel := []string{k + "::text"}
	for _, c := range o.cols {
		sel = append(sel, "o."+pgx.Identifier{c}.Sanitize()+"::text")
	}
	o.candidates = fmt.Sprintf("SELECT %s FROM %s o WHERE %s AND ($2::text IS NULL OR %s > $2::text::%s) ORDER BY %s LIMIT $3",
		strings.Join(sel, ", "), t, orphaned, k, o.key.Type, k)
	o.lock = o.candidates + " FOR UPDATE OF o SKIP LOCKED"
	// A later statement, so a later snapshot: it sees every membership
	// committed before the lock was taken.
	o.recheck = fmt.Sprintf("SELECT %s::text FROM %s o WHERE %s = ANY($2::text[]::%s[]) AND %s",
		k, t, k, o.key.Type, orphaned)
	o.counts = fmt.Sprintf("SELECT count(*) FILTER (WHERE %s), count(*) FROM %s o", orphaned, t)
	for _, s := range o.steps {
		o.run = append(o.run, s.SQL(o.key, false, nil))
		o.dry = append(o.dry, s.SQL(o.key, true, nil))
	}
}
