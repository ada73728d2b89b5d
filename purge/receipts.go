package purge

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/plan"
)

// rowGroups are the (table, action) pairs of a receipt's row counts, in
// the order receipts list them; several steps on one table and action
// share a group.
type rowGroups struct {
	counts []ledger.RowCount // Rows unset
	// ofStep is, per statement of the run, its group.
	ofStep []int
}

func newRowGroups(steps []*plan.Step) rowGroups {
	var g rowGroups
	at := map[string]int{}
	for _, st := range steps {
		k := jobs.RowKey(st.Table.String(), string(st.Action))
		if _, ok := at[k]; !ok {
			at[k] = len(g.counts)
			g.counts = append(g.counts, ledger.RowCount{Table: st.Table.String(), Action: string(st.Action)})
		}
	}
	order := make([]int, len(g.counts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := g.counts[order[a]], g.counts[order[b]]
		return x.Table+x.Action < y.Table+y.Action
	})
	rank := make([]int, len(order))
	sorted := make([]ledger.RowCount, len(order))
	for r, i := range order {
		rank[i], sorted[r] = r, g.counts[i]
	}
	g.counts = sorted
	for _, st := range steps {
		g.ofStep = append(g.ofStep, rank[at[jobs.RowKey(st.Table.String(), string(st.Action))]])
	}
	return g
}

// receiptDocs are a batch's distinct receipt documents (row counts,
// objects, processors as JSON), each sent and parsed once: most subjects
// of a batch have the same row counts, and PostgreSQL's JSON parser cost
// more server time than anything else in the receipts (at 20,000
// subjects of 16 tables, 1.2 s of a run's 9 s).
type receiptDocs struct {
	docs  []string
	index map[string]int32
	key   []byte
}

// add returns the 1-based index of doc among the batch's documents.
func (d *receiptDocs) add(doc string) int32 {
	if i, ok := d.index[doc]; ok {
		return i
	}
	if d.index == nil {
		d.index = map[string]int32{}
	}
	d.docs = append(d.docs, doc)
	d.index[doc] = int32(len(d.docs))
	return int32(len(d.docs))
}

// rows returns the index of the row counts document of one subject's
// counts, per group of g; it builds the JSON only for counts not seen in
// the batch yet.
func (d *receiptDocs) rows(g rowGroups, counts []int64) int32 {
	d.key = d.key[:0]
	for _, c := range counts {
		d.key = strconv.AppendInt(append(d.key, ','), c, 10)
	}
	if i, ok := d.index[string(d.key)]; ok {
		return i
	}
	var rc []ledger.RowCount
	for i, c := range counts {
		if c > 0 {
			x := g.counts[i]
			x.Rows = c
			rc = append(rc, x)
		}
	}
	i := d.add(mustJSON(rc))
	d.index[string(d.key)] = i
	return i
}

// runSteps sends every step in one pipeline and returns per subject key its
// rows per group of j.sql.groups; it adds the batch's rows to t, which the
// caller commits to the report once the batch committed.
func (j *Job) runSteps(ctx context.Context, tx pgx.Tx, stmts []plan.Statement, keys, pseudos []string, t *jobs.Tally) (map[string][]int64, error) {
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.SQL, append([]any{keys, pseudos}, st.Args...)...)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	per := make(map[string][]int64, len(keys))
	groups := len(j.sql.groups.counts)
	for i := range stmts {
		step, g := j.sql.stepOf[i], j.sql.groups.ofStep[i]
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("purge batch: %s: %w", step, err)
		}
		var total int64
		for rows.Next() {
			var k string
			var c int64
			if err := rows.Scan(&k, &c); err != nil {
				rows.Close()
				return nil, fmt.Errorf("purge batch: %s: %w", step, err)
			}
			if per[k] == nil {
				per[k] = make([]int64, groups)
			}
			per[k][g] += c
			total += c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("purge batch: %s: %w", step, err)
		}
		t.AddRows(step.Table.String(), string(step.Action), total)
	}
	return per, nil
}

// finishBatch, in one round trip, forgets the subjects' inactivity notices
// and export requests (lethe's own rows that hold their keys) and writes
// the batch's receipts; it returns the batch's id.
func (j *Job) finishBatch(ctx context.Context, tx pgx.Tx, runID int64, keys []string, live []int, sel selected, hashes []string,
	per map[string][]int64, outcomes []Outcome) (int64, error) {
	n := len(live)
	requested := make([]*time.Time, n)
	var docs receiptDocs
	rowsDoc := make([]int32, n)
	objsDoc := make([]int32, n)
	procsDoc := make([]int32, n)
	exports := []string{}
	for i, idx := range live {
		s := sel.subjects[idx]
		if t := sel.requested[idx]; !t.IsZero() {
			requested[i] = &t
		}
		counts := per[s.Key]
		if counts == nil {
			counts = make([]int64, len(j.sql.groups.counts))
		}
		rowsDoc[i] = docs.rows(j.sql.groups, counts)
		objs := []ledger.ObjectCount{}
		for loc, c := range outcomes[idx].Objects {
			objs = append(objs, ledger.ObjectCount{Location: loc, Objects: c[0], Bytes: c[1], Archives: outcomes[idx].Archives[loc]})
		}
		exports = append(exports, outcomes[idx].Exports...)
		sort.Slice(objs, func(a, b int) bool { return objs[a].Location < objs[b].Location })
		procs := append([]string{}, outcomes[idx].Confirmed...)
		objsDoc[i], procsDoc[i] = docs.add(mustJSON(objs)), docs.add(mustJSON(procs))
	}
	b := &pgx.Batch{}
	b.Queue(forgetNoticesSQL, keys)
	b.Queue(lockExportsSQL, ledger.ExportsLock)
	b.Queue(forgetExportsSQL, keys, hashes, exports)
	subjectRows := make([]map[string]string, n)
	for i, idx := range live {
		subjectRows[i] = sel.subjects[idx].Row
	}
	b.Queue(ledger.InsertReceiptsSQL, hashes, runID, j.cfg.Policy.Digest, requested, docs.docs, rowsDoc, objsDoc, procsDoc,
		keys, subjectRows)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return 0, fmt.Errorf("purge batch: forget notices: %w", err)
	}
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return 0, fmt.Errorf("purge batch: forget export requests: %w", err)
		}
	}
	var id int64
	if err := br.QueryRow().Scan(&id); err != nil {
		return 0, fmt.Errorf("purge batch: write receipts: %w", err)
	}
	return id, br.Close()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	if string(b) == "null" {
		return "[]"
	}
	return string(b)
}
