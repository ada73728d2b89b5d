package grants

import (
	"context"
	"fmt"
	"sort"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// Grants is what lethe needs to run every section of one policy against one
// database: privileges per table, lethe's own schema, and the object
// locations it lists and removes.
type Grants struct {
	// Database is the name of the database the catalog was read from.
	Database string
	// Tables lists the application tables lethe touches, by schema and name.
	Tables []*Table
	// LetheTables lists the tables that already exist in schema lethe; the
	// role must own them.
	LetheTables []string
	// AppSchemas lists every schema but lethe's and the system's: the
	// script revokes the role's privileges there before granting.
	AppSchemas []string
	// Locations lists the object locations of the policy, each once.
	Locations []objstore.Location
	// Journal is the erasure journal's location (LETHE_JOURNAL), or "".
	Journal string
	// ExportTo is where the export job writes archives (export.to), or ""
	// when the policy has no export: section.
	ExportTo string
	// PolicyPath and PolicyDigest name the policy the grants come from.
	PolicyPath, PolicyDigest string

	byOID map[uint32]*Table
}

// Table is what lethe does to one application table.
type Table struct {
	// Table is the catalog table.
	Table *catalog.Table
	// Select, Delete are the table-level privileges lethe needs.
	Select, Delete bool
	// Update lists the columns lethe writes, in the order first needed.
	Update []string
	// Lock is set when lethe locks rows (SELECT ... FOR UPDATE) of the
	// table: PostgreSQL then wants UPDATE on at least one column.
	Lock string
	// LockColumn is the column granted UPDATE for the lock when the jobs
	// write no column of the table.
	LockColumn string
	// Leaves are the leaf partitions of a partitioned table that retention
	// deletes from directly.
	Leaves []string
	// Detach is set when retention drops whole partitions of the table,
	// which needs ownership.
	Detach bool
	// Owner is the table's owner, read for partitioned tables.
	Owner string
	// Why lists, one line each, the reasons for the privileges.
	Why []string
}

// Compute reads the catalog through q and works out the grants p needs.
// Every problem with the policy is a *policy.Error.
func Compute(ctx context.Context, q catalog.Querier, p *policy.Policy) (*Grants, error) {
	g := &Grants{byOID: map[uint32]*Table{}, PolicyPath: p.Path, PolicyDigest: p.Digest}
	if err := q.QueryRow(ctx, "SELECT current_database()").Scan(&g.Database); err != nil {
		return nil, fmt.Errorf("grants: read database name: %w", err)
	}
	cat, err := catalog.Load(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("grants: %w", err)
	}
	perr := &policy.Error{Path: p.Path}
	if !p.Subject.Table.IsZero() {
		pl, err := plan.Build(ctx, q, p)
		if err != nil {
			return nil, err
		}
		g.purge(pl)
		if p.Inactivity != nil {
			g.inactivity(pl)
		}
		if p.ExportJob != nil {
			g.exportJob(pl)
			g.ExportTo = p.ExportJob.To
		}
	}
	if err := g.retention(ctx, q, cat, p, perr); err != nil {
		return nil, err
	}
	if p.Orphans != nil {
		if err := g.orphans(ctx, q, cat, p, perr); err != nil {
			return nil, err
		}
	}
	g.locations(p, perr)
	if err := perr.Err(); err != nil {
		return nil, err
	}
	if err := g.letheTables(ctx, q); err != nil {
		return nil, err
	}
	g.finish()
	return g, nil
}

// table returns the entry of t, adding it on first use.
func (g *Grants) table(t *catalog.Table) *Table {
	e, ok := g.byOID[t.OID]
	if !ok {
		e = &Table{Table: t}
		g.byOID[t.OID] = e
		g.Tables = append(g.Tables, e)
	}
	return e
}

// read grants SELECT on t for the reason why.
func (g *Grants) read(t *catalog.Table, why string) *Table {
	e := g.table(t)
	e.Select = true
	e.addWhy(why)
	return e
}

func (e *Table) addWhy(why string) {
	for _, w := range e.Why {
		if w == why {
			return
		}
	}
	e.Why = append(e.Why, why)
}

func (e *Table) update(cols ...*catalog.Column) {
	for _, c := range cols {
		if c == nil {
			continue
		}
		found := false
		for _, u := range e.Update {
			found = found || u == c.Name
		}
		if !found {
			e.Update = append(e.Update, c.Name)
		}
	}
}

// lock records that rows of e are locked, by FOR UPDATE, and which column
// to grant UPDATE on if no other is.
func (e *Table) lock(what string, col *catalog.Column) {
	if e.Lock == "" {
		e.Lock = what
	}
	if e.LockColumn == "" && col != nil {
		e.LockColumn = col.Name
	}
}

// finish sorts the tables and grants UPDATE on the lock column of those
// whose rows are locked but no column written.
func (g *Grants) finish() {
	for _, e := range g.Tables {
		if e.Lock != "" && len(e.Update) == 0 && e.LockColumn != "" {
			e.Update = []string{e.LockColumn}
		} else {
			e.LockColumn = ""
		}
	}
	sort.Slice(g.Tables, func(i, j int) bool {
		a, b := g.Tables[i].Table, g.Tables[j].Table
		if a.Schema != b.Schema {
			return a.Schema < b.Schema
		}
		return a.Name < b.Name
	})
}

// Schemas returns the schemas of the tables, each once, sorted.
func (g *Grants) Schemas() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range g.Tables {
		if !seen[e.Table.Schema] {
			seen[e.Table.Schema] = true
			out = append(out, e.Table.Schema)
		}
	}
	sort.Strings(out)
	return out
}

// steps adds what the statements of a plan's steps need: package plan's
// Step.SQL reads each table (the counts, the via joins, RETURNING), deletes
// for delete steps and writes the set: columns of the others.
func (g *Grants) steps(job string, steps []*plan.Step) {
	for _, s := range steps {
		e := g.read(s.Table, fmt.Sprintf("%s: %s", job, stepWhy(s)))
		switch {
		case s.Action == policy.Delete:
			e.Delete = true
		case len(s.Set) > 0 && s.Action != policy.Cascade:
			for _, sc := range s.Set {
				e.update(sc.Column)
			}
		}
		if s.Via != nil {
			g.read(s.Via.Table, fmt.Sprintf("%s: reached through by %s", job, s.Table))
		}
	}
}

func stepWhy(s *plan.Step) string {
	switch {
	case s.Action == policy.Cascade:
		return "counts the rows that go by ON DELETE CASCADE"
	case s.Action == policy.Delete:
		return "deletes the rows of the rule at line " + fmt.Sprint(s.Line)
	case len(s.Set) > 0:
		return fmt.Sprintf("%s: replaces the set: columns (line %d)", s.Action, s.Line)
	}
	return fmt.Sprintf("%s: counts the rows kept (line %d)", s.Action, s.Line)
}

// purge adds the purge's needs (erase runs the same statements).
func (g *Grants) purge(pl *plan.Plan) {
	s := pl.Subject
	e := g.read(s.Table, "purge: selects and locks the subjects whose deletion is due; verifies after each batch")
	e.lock("purge and erase lock each subject row (FOR UPDATE)", s.RequestedAt)
	g.steps("purge", pl.Steps)
	f := pl.Final
	switch f.Action {
	case policy.Delete:
		e.Delete = true
		e.addWhy("purge: deletes the subject row last")
	case policy.Anonymize:
		for _, sc := range f.Set {
			e.update(sc.Column)
		}
		e.update(s.PurgedAt)
		e.addWhy("purge: anonymizes the subject row last and sets purged_at")
	}
	for _, o := range pl.Policy.Objects {
		if o.ByRows() {
			if t, ok := pl.Catalog.Lookup(o.Table); ok {
				g.read(t, "purge: reads the object keys of column "+o.Column.Column())
			}
		}
	}
}

// inactivity adds the inactivity job's needs: it reads the subject rows
// (the whole row, for the message), sets requested_at and locks them.
func (g *Grants) inactivity(pl *plan.Plan) {
	s := pl.Subject
	e := g.read(s.Table, "inactivity: reads last activity and the notice's fields, requests deletion")
	e.update(s.RequestedAt)
	e.lock("inactivity locks the subject rows it hands to the purge (FOR UPDATE)", s.RequestedAt)
}

// exportJob adds the export job's needs: it reads and locks the subject
// rows (the archive's reads are the purge's SELECTs) and marks access
// requests done,
// by clearing the subject table's request column or setting the request
// table's done_at.
func (g *Grants) exportJob(pl *plan.Plan) {
	s, r := pl.Subject, pl.Policy.ExportJob.Request
	e := g.read(s.Table, "export: reads the subject row and its access request")
	e.lock("export locks the subject rows whose archives it writes (FOR KEY SHARE)", s.RequestedAt)
	if !r.ByTable() {
		if c, ok := s.Table.Columns[r.Column.Column()]; ok {
			e.update(c)
		}
		return
	}
	if t, ok := pl.Catalog.Lookup(r.Table); ok {
		rt := g.read(t, "export: reads the access requests")
		if c, ok := t.Columns[r.DoneAt.Column()]; ok {
			rt.update(c)
		}
	}
}
