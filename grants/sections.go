package grants

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/orphans"
	"github.com/lethe-project/lethe/policy"
)

// leavesSQL lists the leaf partitions under a partitioned table, as
// package retention walks them.
const leavesSQL = `
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_partition_tree($1::oid) t
JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.isleaf ORDER BY t.level, c.oid`

// rangeKeySQL returns the single partition key column of a table
// partitioned by RANGE, or no row.
const rangeKeySQL = `
SELECT a.attname FROM pg_partitioned_table p
JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
WHERE p.partrelid = $1 AND p.partstrat = 'r' AND p.partnatts = 1`

// letheTablesSQL lists the tables (and sequences) already in schema lethe.
const letheTablesSQL = `
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'lethe' AND c.relkind IN ('r', 'p') ORDER BY c.relname`

// appSchemasSQL lists the schemas that may hold application tables.
const appSchemasSQL = `
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'lethe') AND nspname NOT LIKE 'pg\_%' ORDER BY 1`

// retention adds each rule's table: read and delete by batches; for a
// partitioned table, its leaves too, and ownership to drop partitions.
func (g *Grants) retention(ctx context.Context, q catalog.Querier, cat *catalog.Catalog, p *policy.Policy, perr *policy.Error) error {
	for _, r := range p.Retention {
		t, ok := cat.Lookup(r.Table)
		if !ok {
			perr.Add(r.Line, "retention: table %s does not exist", r.Table)
			continue
		}
		if _, ok := t.Columns[r.Column.Column()]; !ok {
			perr.Add(r.Line, "retention %s: column %s does not exist", t, r.Column)
			continue
		}
		e := g.read(t, fmt.Sprintf("retention: deletes rows older than %s (line %d)", r.Keep, r.Line))
		e.Delete = true
		if !t.Partitioned {
			continue
		}
		rows, err := q.Query(ctx, leavesSQL, t.OID)
		if err != nil {
			return fmt.Errorf("grants: list partitions of %s: %w", t, err)
		}
		leaves, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("grants: list partitions of %s: %w", t, err)
		}
		e.Leaves = leaves
		var key string
		err = q.QueryRow(ctx, rangeKeySQL, t.OID).Scan(&key)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("grants: read partition key of %s: %w", t, err)
		}
		e.Detach = e.Detach || (key == r.Column.Column() && len(r.Where) == 0)
		if err := q.QueryRow(ctx, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1", t.OID).Scan(&e.Owner); err != nil {
			return fmt.Errorf("grants: read owner of %s: %w", t, err)
		}
	}
	return nil
}

// orphans adds the organizations (planned by package orphans' own
// planner), the invites and the subject table that orphan objects are
// checked against.
func (g *Grants) orphans(ctx context.Context, q catalog.Querier, cat *catalog.Catalog, p *policy.Policy, perr *policy.Error) error {
	for i := range p.Orphans.Organizations {
		r := &p.Orphans.Organizations[i]
		members, ok := cat.Lookup(r.Members.Table)
		if !ok {
			perr.Add(r.Line, "orphans: organization %s: members: table %s does not exist", r.Table, r.Members.Table)
			continue
		}
		steps, err := orphans.PlanOrganization(ctx, q, cat, p.Path, r)
		if err != nil {
			return err
		}
		g.read(members, "orphans: checks that an organization has no member left")
		final := steps[len(steps)-1]
		g.steps("orphans", steps[:len(steps)-1])
		e := g.read(final.Table, "orphans: deletes organizations without members")
		e.Delete = true
		e.lock("orphans locks each organization it removes (FOR UPDATE)", final.Table.Columns[r.CreatedAt.Column()])
	}
	for _, r := range p.Orphans.Invites {
		t, ok := cat.Lookup(r.Table)
		if !ok {
			perr.Add(r.Line, "orphans: invites: table %s does not exist", r.Table)
			continue
		}
		e := g.read(t, "orphans: deletes pending invitations whose inviter is gone")
		e.Delete = true
		e.lock("orphans locks the invitations it deletes (FOR UPDATE)", t.Columns[r.Inviter.Column()])
		g.subjectRead(cat, p, "orphans: checks whether an invitation's inviter still exists")
	}
	if len(p.Orphans.Objects) > 0 {
		g.subjectRead(cat, p, "orphans: checks whether an object prefix's subject still exists")
	}
	return nil
}

func (g *Grants) subjectRead(cat *catalog.Catalog, p *policy.Policy, why string) {
	if t, ok := cat.Lookup(p.Subject.Table); ok {
		g.read(t, why)
	}
}

// locations collects every object location of the policy, each once.
func (g *Grants) locations(p *policy.Policy, perr *policy.Error) {
	seen := map[string]bool{}
	add := func(raw string, line int) {
		if raw == "" || seen[raw] {
			return
		}
		seen[raw] = true
		loc, err := objstore.ParseLocation(raw)
		if err != nil {
			perr.Add(line, "objects: %v", err)
			return
		}
		g.Locations = append(g.Locations, loc)
	}
	for _, o := range p.Objects {
		add(o.Location, o.Line)
	}
	if p.Orphans != nil {
		for _, r := range p.Orphans.Organizations {
			for _, l := range r.Objects {
				add(l, r.Line)
			}
		}
		for _, o := range p.Orphans.Objects {
			add(o.Location, o.Line)
		}
	}
	sort.Slice(g.Locations, func(i, j int) bool { return g.Locations[i].String() < g.Locations[j].String() })
}

func (g *Grants) letheTables(ctx context.Context, q catalog.Querier) error {
	rows, err := q.Query(ctx, appSchemasSQL)
	if err != nil {
		return fmt.Errorf("grants: list schemas: %w", err)
	}
	if g.AppSchemas, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fmt.Errorf("grants: list schemas: %w", err)
	}
	rows, err = q.Query(ctx, letheTablesSQL)
	if err != nil {
		return fmt.Errorf("grants: list lethe's tables: %w", err)
	}
	g.LetheTables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("grants: list lethe's tables: %w", err)
	}
	return nil
}
