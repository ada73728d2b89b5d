package purge

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// queries are the statements a run uses, built once from the plan.
type queries struct {
	// stats counts the pending and eligible requests, before and after
	// a run's batches; its total column is 0. statsOne counts one subject.
	stats, statsOne string
	// total counts the subject table's rows, at most $1 of them: the
	// blast-radius guard's total (jobs.Limits.GuardTotalCap).
	total                   string
	selectBatch, selectOne  string
	selectDry, selectOneDry string
	// selectMany and statsMany take $1, the keys a replay re-erases.
	selectMany, selectManyDry, statsMany string
	steps, counts, verify                []plan.Statement
	stepOf, verifyOf                     []*plan.Step
	// groups are the receipts' (table, action) pairs of the steps.
	groups rowGroups
	// verifyOn are, per verification statement, the subject columns whose
	// values it takes from $2 on; empty for a step's own count.
	verifyOn     [][]*catalog.Column
	extraColumns []string
	// searched names, sorted, where verification looks (table.column).
	searched []string
}

// buildQueries builds the subject selections and the step statements. The
// step statements take $1 keys and $2 pseudonym suffixes.
func buildQueries(pl *plan.Plan, extra ...string) queries {
	s := pl.Subject
	t := s.Table.Ident()
	key := "t." + s.Key.Ident()
	ra := "t." + s.RequestedAt.Ident()
	pending := ra + " IS NOT NULL"
	notHeld := "true"
	if s.Hold != nil {
		notHeld = "t." + s.Hold.Ident() + " IS NOT TRUE"
	}
	pending += " AND " + notHeld
	if s.PurgedAt != nil {
		pending += " AND t." + s.PurgedAt.Ident() + " IS NULL"
		notHeld += " AND t." + s.PurgedAt.Ident() + " IS NULL"
	}
	eligible := fmt.Sprintf("%s AND %s <= now() - $1::interval", pending, ra)
	keyParam := func(n int) string { return fmt.Sprintf("$%d::text::%s", n, s.Key.Type) }

	q := queries{}
	for _, c := range q.verifyValues(pl) {
		extra = appendNew(extra, c)
	}
	q.extraColumns = extra
	// The last column is how long the oldest eligible request has been past
	// requested_at + grace: what the lateness alert reads (0 when none).
	// Restricted to the pending requests, the count reads the index on
	// requested_at (which the batch select needs too) instead of every
	// subject, so that its cost follows the requests, not the
	// application's users.
	q.stats = fmt.Sprintf(`SELECT count(*) FILTER (WHERE %s), count(*), 0::bigint,
		COALESCE(EXTRACT(epoch FROM now() - min(%s::timestamptz)), 0)::float8,
		COALESCE(EXTRACT(epoch FROM now() - $1::interval - min(%s::timestamptz) FILTER (WHERE %s)), 0)::float8 FROM %s t WHERE %s`,
		eligible, ra, ra, eligible, t, pending)
	// The guard compares the eligible requests with all subjects, but only
	// up to a share: it needs the total only up to eligible/share.
	q.total = fmt.Sprintf(`SELECT count(*) FROM (SELECT FROM %s LIMIT $1) t`, t)
	q.statsOne = fmt.Sprintf(`SELECT count(*), 0::bigint, 1::bigint, 0::float8, 0::float8 FROM %s t WHERE %s = %s AND %s`,
		t, key, keyParam(1), notHeld)

	cols := []string{key + "::text", ra + "::timestamptz", ra + "::text"}
	for _, c := range extra {
		cols = append(cols, "t."+s.Table.Columns[c].Ident()+"::text")
	}
	sel := strings.Join(cols, ", ")
	order := fmt.Sprintf("ORDER BY %s, %s", ra, key)
	// The oldest requests first, but ties in any order: ordered by the
	// key too, a batch would sort every eligible subject (an index on
	// requested_at alone gives no order within a tie), so that each batch
	// cost as much as the whole backlog. Ordered by requested_at alone, an
	// index on it hands over the batch and stops.
	q.selectBatch = fmt.Sprintf(`SELECT %s FROM %s t WHERE %s AND %s <> ALL($3::text[]::%s[]) ORDER BY %s LIMIT $2 FOR UPDATE SKIP LOCKED`,
		sel, t, eligible, key, s.Key.Type, ra)
	q.selectOneDry = fmt.Sprintf(`SELECT %s FROM %s t WHERE %s = %s AND %s`, sel, t, key, keyParam(1), notHeld)
	q.selectOne = q.selectOneDry + " FOR UPDATE"
	q.selectManyDry = fmt.Sprintf(`SELECT %s FROM %s t WHERE %s = ANY($1::text[]::%s[]) AND %s ORDER BY %s`, sel, t, key, s.Key.Type, notHeld, key)
	q.selectMany = q.selectManyDry + " FOR UPDATE"
	q.statsMany = fmt.Sprintf(`SELECT count(*), 0::bigint, count(*), 0::float8, 0::float8 FROM %s t WHERE %s = ANY($1::text[]::%s[]) AND %s`,
		t, key, s.Key.Type, notHeld)
	q.selectDry = fmt.Sprintf(`SELECT %s FROM %s t WHERE %s AND ($3::text IS NULL OR (%s, %s) > ($3::text::%s, $4::text::%s)) %s LIMIT $2`,
		sel, t, eligible, ra, key, s.RequestedAt.Type, s.Key.Type, order)

	all := append(append([]*plan.Step{}, pl.Steps...), pl.Final)
	for _, st := range all {
		var purgedAt = (*catalog.Column)(nil)
		if st == pl.Final && st.Action == policy.Anonymize {
			purgedAt = s.PurgedAt
		}
		q.steps = append(q.steps, st.SQL(s.Key, false, purgedAt))
		q.counts = append(q.counts, st.SQL(s.Key, true, nil))
		q.stepOf = append(q.stepOf, st)
		if verifiable(st) && !impliedByForeignKey(pl, st) {
			v := st.VerifySQL(s.Key)
			if st == pl.Final && st.Action == policy.Anonymize {
				v.SQL = fmt.Sprintf("SELECT %s::text, count(*) FROM %s t WHERE %s = ANY($1::text[]::%s[]) AND t.%s IS NULL AND $2::text[] IS NOT NULL GROUP BY 1",
					key, t, key, s.Key.Type, s.PurgedAt.Ident())
			}
			q.verify = append(q.verify, v)
			q.verifyOf = append(q.verifyOf, st)
			q.verifyOn = append(q.verifyOn, nil)
			what := st.Table.String() + "." + st.Match.Name
			if st == pl.Final && st.Action == policy.Anonymize {
				what += " (tombstone)"
			}
			q.searched = append(q.searched, what)
		}
	}
	sort.Strings(q.searched)
	q.groups = newRowGroups(q.stepOf)
	return q
}

// verifiable reports whether, after the step ran, no row may match the
// subject's key any more: deleted rows, cascaded rows, anonymized rows
// whose matching column was replaced, and the subject row. Rows reached
// via another table cannot be found once that table's rows are gone.
func verifiable(st *plan.Step) bool {
	if st.Via != nil {
		return false
	}
	switch st.Action {
	case policy.Delete, policy.Cascade:
		return true
	case policy.Anonymize, policy.Keep:
		for _, sc := range st.Set {
			if sc.Column == st.Match {
				return true
			}
		}
	}
	return st.Rule == nil && st.FK == nil // the subject step
}

// impliedByForeignKey reports whether the database itself guarantees that
// no row of the step's table holds an erased subject's key once the batch
// committed: the subject row is deleted and a foreign key ties the step's
// match column to the subject key, so a row left behind would have made
// the delete fail (or followed it by cascade). Verification skips the query.
func impliedByForeignKey(pl *plan.Plan, st *plan.Step) bool {
	if pl.Final.Action != policy.Delete || st.Via != nil || st == pl.Final || st.Match == nil {
		return false
	}
	for _, fk := range pl.Catalog.FKs {
		if fk.Child == st.Table && fk.Parent == pl.Subject.Table && len(fk.ChildCols) == 1 &&
			fk.ChildCols[0] == st.Match.Name && fk.ParentCols[0] == pl.Subject.Key.Name {
			return true
		}
	}
	return false
}
