package discover

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/catalog"
)

// tuplesSQL reads each table's estimated rows, and whether its file is
// empty (no row was ever written, or it was truncated).
const tuplesSQL = `SELECT c.oid, c.reltuples::float8, c.relkind = 'r' AND pg_relation_size(c.oid) = 0
FROM pg_class c WHERE c.relkind IN ('r', 'p')`

// Find lists the candidates of in: by shape, then, unless the policy's
// discovery.sample_rows is -1, by a bounded sample of each table that has
// candidates. It changes nothing; sampled values stay in the server.
func Find(ctx context.Context, db *pgxpool.Pool, in Input, opts Options) (*Result, error) {
	t0 := time.Now()
	phase := func(name string) {
		if opts.Logger != nil {
			opts.Logger.Debug("discovery phase done", slog.String("phase", name), slog.Int64("ms", time.Since(t0).Milliseconds()))
		}
		t0 = time.Now()
	}
	s := newShape(in)
	byName, sample := s.byShape()
	phase("shape")
	res := &Result{}
	rows := DefaultSampleRows
	if in.Config != nil && in.Config.SampleRows != 0 {
		rows = in.Config.SampleRows
	}
	if rows < 0 {
		res.Candidates = keepByName(byName)
		return res, nil
	}
	content := s.contentColumns(byName)
	tuples, empty, err := readTuples(ctx, db)
	if err != nil {
		return nil, err
	}
	phase("table sizes")
	if opts.Budget <= 0 {
		opts.Budget = 3 * time.Second
	}
	if opts.StatementTimeout <= 0 {
		opts.StatementTimeout = 2 * time.Second
	}
	bctx, cancel := context.WithTimeout(ctx, opts.Budget)
	defer cancel()
	var todo []*tableSample
	for _, t := range in.Catalog.Tables() {
		refs, cc := sample[t], content[t]
		if empty[t.OID] {
			continue // nothing to sample
		}
		if len(refs) > 0 || len(cc) > 0 {
			todo = append(todo, &tableSample{t: t, refs: refs, cc: cc, sql: s.sampleSQL(t, refs, cc, tuples[t.OID], rows),
				n: 2*len(refs) + (2+len(contentKinds))*len(cc)})
		}
	}
	// References first: when the budget runs out, the tables left
	// unsampled are those with only content to look at.
	slices.SortStableFunc(todo, func(a, b *tableSample) int {
		return cmp.Compare(min(len(b.refs), 1), min(len(a.refs), 1))
	})
	if err := runSamples(ctx, bctx, cancel, db, todo, opts); err != nil {
		return nil, err
	}
	phase(fmt.Sprintf("sample %d tables", len(todo)))
	var found []*Candidate
	for _, ts := range todo {
		if ts.counts == nil {
			res.Unsampled++
			continue
		}
		res.Sampled++
		for i, r := range ts.refs {
			r.Sampled, r.Found = int(ts.counts[2*i]), int(ts.counts[2*i+1])
		}
		found = append(found, contentCandidates(ts.t, ts.cc, ts.counts[2*len(ts.refs):])...)
	}
	res.Candidates = keepByName(byName)
	for _, t := range in.Catalog.Tables() {
		for _, r := range sample[t] {
			if !r.ByName && r.Sampled >= minDistinct && r.Found == r.Sampled {
				res.Candidates = append(res.Candidates, r)
			}
		}
	}
	refCols := map[*catalog.Column]bool{}
	for _, c := range res.Candidates {
		refCols[c.Column] = c.Kind == Reference
	}
	for _, c := range found {
		if !refCols[c.Column] {
			res.Candidates = append(res.Candidates, c)
		}
	}
	return res, nil
}

// keepByName returns the candidates found by name.
func keepByName(c []*Candidate) []*Candidate { return append([]*Candidate{}, c...) }

// contentColumns lists, per table, the text and JSON columns to sample for
// personal content: not declared, not already a candidate, not covered.
func (s *shape) contentColumns(byName []*Candidate) map[*catalog.Table][]contentCol {
	named := map[*catalog.Column]bool{}
	for _, c := range byName {
		named[c.Column] = true
	}
	out := map[*catalog.Table][]contentCol{}
	for _, t := range s.in.Catalog.Tables() {
		if s.skipped(t, "") {
			continue
		}
		for _, name := range t.ColumnOrder {
			c := t.Columns[name]
			json := c.Type == "json" || c.Type == "jsonb"
			if !c.Textual() && !json || named[c] || s.declared(t, name) || s.skipped(t, name) {
				continue
			}
			if s.in.Covered != nil && s.in.Covered(t, name) {
				continue
			}
			out[t] = append(out[t], contentCol{col: c, json: json})
		}
	}
	return out
}

// contentCandidates turns one table's content counts into candidates.
func contentCandidates(t *catalog.Table, cc []contentCol, counts []int64) []*Candidate {
	var out []*Candidate
	w := 2 + len(contentKinds)
	for i, c := range cc {
		row := counts[i*w : (i+1)*w]
		total := int(row[0])
		if total == 0 {
			continue
		}
		if inside := int(row[w-1]); inside > 0 {
			out = append(out, &Candidate{Kind: Personal, Table: t, Column: c.col, Content: "subject keys", Sampled: total, Found: inside})
			continue
		}
		for k, kind := range contentKinds {
			if n := int(row[1+k]); float64(n) >= minContentShare*float64(total) && n > 0 {
				out = append(out, &Candidate{Kind: Personal, Table: t, Column: c.col, Content: kind.name, Sampled: total, Found: n})
				break
			}
		}
	}
	return out
}

func readTuples(ctx context.Context, q catalog.Querier) (tuples map[uint32]float64, empty map[uint32]bool, err error) {
	rows, err := q.Query(ctx, tuplesSQL)
	if err != nil {
		return nil, nil, fmt.Errorf("discovery: read table sizes: %w", err)
	}
	defer rows.Close()
	tuples, empty = map[uint32]float64{}, map[uint32]bool{}
	for rows.Next() {
		var oid uint32
		var n float64
		var e bool
		if err := rows.Scan(&oid, &n, &e); err != nil {
			return nil, nil, fmt.Errorf("discovery: read table sizes: %w", err)
		}
		tuples[oid], empty[oid] = n, e
	}
	return tuples, empty, rows.Err()
}
