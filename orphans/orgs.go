package orphans

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// orgTarget is one organizations: rule resolved against the catalog.
type orgTarget struct {
	rule    *policy.OrgRule
	table   *catalog.Table
	key     *catalog.Column
	members *catalog.Table
	steps   []*plan.Step // the organization's tables in execution order, then the organization row
	locs    []objstore.Location
	cols    []string // columns of the organization row the templates use

	// SQL built once.
	candidates string // $1 min age, $2 key after (text or null), $3 limit
	lock       string // candidates FOR UPDATE SKIP LOCKED
	recheck    string // $1 keys (text[]), $2 min age
	counts     string // $1 min age
	run, dry   []plan.Statement
}

// name is the organization table as reports name it.
func (o *orgTarget) name() string { return o.table.String() }

func resolveOrg(ctx context.Context, q catalog.Querier, cat *catalog.Catalog, pol *policy.Policy, r *policy.OrgRule, perr *policy.Error) (*orgTarget, error) {
	where := fmt.Sprintf("orphans: organization %s", r.Table)
	o := &orgTarget{rule: r}
	bad := len(perr.Problems)
	t, ok := cat.Lookup(r.Table)
	if !ok {
		perr.Add(r.Line, "%s: table %s does not exist", where, r.Table)
		return nil, nil
	}
	o.table = t
	col := func(t *catalog.Table, id policy.Ident, what string) *catalog.Column {
		c, ok := t.Columns[id.Column()]
		if !ok {
			perr.Add(r.Line, "%s: %s: column %s does not exist in table %s", where, what, id, t)
		}
		return c
	}
	o.key = col(t, r.Key, "key")
	if c := o.key; c != nil && c.Category != "S" && c.Category != "N" && c.Type != "uuid" {
		perr.Add(r.Line, "%s: key %s is %s: lethe supports uuid, integer and text keys", where, c.Name, c.Type)
	}
	if c := col(t, r.CreatedAt, "created_at"); c != nil && !strings.HasPrefix(c.Type, "timestamp") {
		perr.Add(r.Line, "%s: created_at %s is %s, want timestamp or timestamptz", where, c.Name, c.Type)
	}
	mt, ok := cat.Lookup(r.Members.Table)
	if !ok {
		perr.Add(r.Line, "%s: members: table %s does not exist", where, r.Members.Table)
	} else if m := col(mt, r.Members.Match, "members.match"); m != nil && o.key != nil {
		o.members = mt
		if !hasFK(cat, mt, m.Name, t, o.key.Name) {
			perr.Add(r.Line, "%s: members: %s.%s needs a foreign key to %s(%s): without it a membership inserted while the job runs could not stop it",
				where, mt, m.Name, t, o.key.Name)
		}
	}
	for _, l := range r.Objects {
		loc, err := objstore.ParseLocation(l)
		if err != nil {
			continue // reported by the policy's own checks
		}
		o.locs = append(o.locs, loc)
		for _, p := range loc.Placeholders() {
			if p == "key" {
				continue
			}
			if _, ok := t.Columns[p]; !ok {
				perr.Add(r.Line, "%s: objects %s: {%s} is not a column of %s", where, l, p, t)
			} else if !contains(o.cols, p) {
				o.cols = append(o.cols, p)
			}
		}
	}
	if len(perr.Problems) > bad {
		return nil, nil
	}
	steps, err := PlanOrganization(ctx, q, cat, pol.Path, r)
	if err != nil {
		var pe *policy.Error
		if !errors.As(err, &pe) {
			return nil, fmt.Errorf("orphans: check %s: %w", where, err)
		}
		for _, p := range pe.Problems {
			if p.Line == 0 {
				p.Line = r.Line
			}
			perr.Add(p.Line, "%s: %s", where, p.Msg)
		}
		return nil, nil
	}
	o.steps = steps
	o.buildSQL()
	return o, nil
}

func hasFK(cat *catalog.Catalog, child *catalog.Table, col string, parent *catalog.Table, pcol string) bool {
	for _, fk := range cat.FKsInto(parent) {
		if fk.Child == child && len(fk.ChildCols) == 1 && fk.ChildCols[0] == col && fk.ParentCols[0] == pcol {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (j *Job) surveyOrgs(ctx context.Context, o *orgTarget) error {
	var n, total int64
	if err := j.cfg.Pool.QueryRow(ctx, o.counts, time.Duration(o.rule.MinAge)).Scan(&n, &total); err != nil {
		return fmt.Errorf("orphans: count orphaned %s: %w", o.name(), err)
	}
	j.s.Report.Add(OrganizationsEligible, n)
	return j.guard(o.name()+" rows with no member", n, total,
		fmt.Sprintf("check orphans: organizations: %s members: (is %s the membership table, and is it filled?)", o.name(), o.rule.Members.Table))
}

// orgFailedError says that some organizations kept their rows because their
// objects could not all be removed; the others went ahead.
type orgFailedError struct {
	table string
	n     int
	first error
}

func (e *orgFailedError) Error() string {
	return fmt.Sprintf("orphans: %d %s row(s) kept for the next run, their objects are not all removed: %v", e.n, e.table, e.first)
}

// runOrgs removes one rule's orphaned organizations, a batch at a time in
// key order, until none is left, the budget is spent or a batch fails.
func (j *Job) runOrgs(ctx context.Context, o *orgTarget) error {
	var (
		after *string
		errs  []error
	)
	for {
		if err := j.proceed(ctx); err != nil {
			return errors.Join(append(errs, err)...)
		}
		var n int
		var last string
		err := j.s.Retry(ctx, func(ctx context.Context) (err error) {
			n, last, err = j.orgBatch(ctx, o, after)
			return err
		})
		if err != nil {
			var fe *orgFailedError
			if !errors.As(err, &fe) {
				return errors.Join(append(errs, err)...)
			}
			errs = append(errs, err)
		}
		if n < j.s.Limits.BatchSize {
			break
		}
		after = &last
	}
	if !j.s.DryRun() {
		// What another run holds, or what this one kept, is left.
		var left, total int64
		if err := j.cfg.Pool.QueryRow(ctx, o.counts, time.Duration(o.rule.MinAge)).Scan(&left, &total); err == nil {
			j.s.Report.Add(OrganizationsLeft, left)
		}
	}
	j.cfg.Logger.Info("organizations done", slog.String("table", o.name()),
		slog.Int64("removed", j.s.Report.Counter(OrganizationsRemoved)), slog.Bool("dry_run", j.s.DryRun()))
	return errors.Join(errs...)
}

type org struct {
	key    string
	values map[string]string
}

// orgBatch removes (or, dry, counts) one batch of organizations in one
// transaction: lock, check again, objects, rows, commit. It returns how
// many candidates it selected and the last one's key. Its rows and
// counters reach the report only once it committed.
func (j *Job) orgBatch(ctx context.Context, o *orgTarget, after *string) (int, string, error) {
	started := j.s.Limits.Now()
	tx, err := j.s.Begin(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("orphans: %s batch: %w", o.name(), err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	q := o.lock
	if j.s.DryRun() {
		q = o.candidates // read-only: nothing to lock, nothing will change
	}
	cands, err := j.selectOrgs(ctx, tx, o, q, after)
	if err != nil || len(cands) == 0 {
		return 0, "", err
	}
	n, last := len(cands), cands[len(cands)-1].key
	t := jobs.NewTally()
	live := cands
	if !j.s.DryRun() {
		if live, err = j.recheck(ctx, tx, o, cands); err != nil {
			return n, last, err
		}
		t.Add(OrganizationsSaved, int64(len(cands)-len(live)))
	}
	keys, failed := j.orgObjects(ctx, o, live)
	if len(keys) > 0 {
		if err := j.orgRows(ctx, tx, o, keys, t); err != nil {
			return n, last, err
		}
		if !j.s.DryRun() {
			if j.beforeCommit != nil {
				j.beforeCommit(tx.Conn().PgConn().PID())
			}
			if err := tx.Commit(ctx); err != nil {
				return n, last, fmt.Errorf("orphans: %s batch: commit: %w", o.name(), err)
			}
		}
	}
	t.Add(OrganizationsRemoved, int64(len(keys)))
	t.Add(OrganizationsFailed, int64(len(failed)))
	took := j.s.Limits.Now().Sub(started)
	j.s.Commit(t, took)
	j.cfg.Logger.Debug("organizations batch done", slog.String("table", o.name()), slog.Int("removed", len(keys)),
		slog.Int("saved", len(cands)-len(live)), slog.Int("failed", len(failed)), slog.Duration("duration", took))
	if len(failed) > 0 {
		return n, last, &orgFailedError{table: o.name(), n: len(failed), first: failed[0]}
	}
	return n, last, nil
}

func (j *Job) selectOrgs(ctx context.Context, tx pgx.Tx, o *orgTarget, q string, after *string) ([]org, error) {
	rows, err := tx.Query(ctx, q, time.Duration(o.rule.MinAge), after, j.s.Limits.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("orphans: select orphaned %s: %w", o.name(), err)
	}
	defer rows.Close()
	var out []org
	for rows.Next() {
		vals := make([]*string, 1+len(o.cols))
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("orphans: select orphaned %s: %w", o.name(), err)
		}
		g := org{key: *vals[0], values: map[string]string{"key": *vals[0]}}
		for i, c := range o.cols {
			if vals[i+1] != nil {
				g.values[c] = *vals[i+1]
			}
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orphans: select orphaned %s: %w", o.name(), err)
	}
	return out, nil
}

// recheck keeps the locked candidates that still have no member and are
// still old enough, as seen by a statement that starts after the locks
// were taken.
func (j *Job) recheck(ctx context.Context, tx pgx.Tx, o *orgTarget, cands []org) ([]org, error) {
	keys := make([]string, len(cands))
	for i, c := range cands {
		keys[i] = c.key
	}
	rows, err := tx.Query(ctx, o.recheck, time.Duration(o.rule.MinAge), keys)
	if err != nil {
		return nil, fmt.Errorf("orphans: check %s again: %w", o.name(), err)
	}
	still, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("orphans: check %s again: %w", o.name(), err)
	}
	var out []org
	for _, c := range cands {
		if contains(still, c.key) {
			out = append(out, c)
		}
	}
	return out, nil
}

// orgObjects removes (or, dry, counts) each organization's objects and
// returns the keys of those whose objects are all gone, and the errors of
// the others.
func (j *Job) orgObjects(ctx context.Context, o *orgTarget, orgs []org) (keys []string, failed []error) {
	for _, g := range orgs {
		var errs []error
		for _, l := range o.locs {
			if !hasAll(l.Placeholders(), g.values) {
				continue // a NULL column: nothing of this organization there
			}
			loc, err := l.Resolve(g.values)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			var rm objstore.Removed
			if j.s.DryRun() {
				rm, err = objstore.Usage(ctx, j.cfg.Objects, loc)
			} else {
				rm, err = j.cfg.Objects.Delete(ctx, loc)
			}
			j.countObjects(rm)
			if err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			failed = append(failed, err)
			continue
		}
		keys = append(keys, g.key)
	}
	return keys, failed
}

// countObjects counts removed objects at once: unlike rows, they do not
// come back when a batch rolls back.
func (j *Job) countObjects(rm objstore.Removed) {
	j.s.Report.Add(jobs.ObjectsRemoved, rm.Versions+rm.DeleteMarkers)
	j.s.Report.Add(jobs.BytesRemoved, rm.Bytes)
}

func hasAll(placeholders []string, values map[string]string) bool {
	for _, p := range placeholders {
		if _, ok := values[p]; !ok {
			return false
		}
	}
	return true
}

// orgRows runs the organization's steps for keys, children first and the
// organization row last, and counts their rows in t.
func (j *Job) orgRows(ctx context.Context, tx pgx.Tx, o *orgTarget, keys []string, t *jobs.Tally) error {
	stmts := o.run
	if j.s.DryRun() {
		stmts = o.dry
	}
	none := make([]string, len(keys)) // no pseudonyms for organizations
	for i, st := range stmts {
		s := o.steps[i]
		args := append([]any{keys, none}, st.Args...)
		rows, err := tx.Query(ctx, st.SQL, args...)
		if err != nil {
			return fmt.Errorf("orphans: %s: %w", s, err)
		}
		var total int64
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return fmt.Errorf("orphans: %s: %w", s, err)
			}
			total += n
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("orphans: %s: %w", s, err)
		}
		t.AddRows(s.Table.String(), string(s.Action), total)
	}
	return nil
}
