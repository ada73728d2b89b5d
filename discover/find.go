package discover

import (
	"context"
	"fmt"
	"time"

	"github.com/lethe-project/lethe/catalog"
)

// DB is what Find needs of the database: catalog queries and read-only
// transactions (a *pgxpool.Pool).
type DB interface {
	catalog.Querier
	Beginner
}

const tuplesSQL = `SELECT c.oid, c.reltuples::float8 FROM pg_class c WHERE c.relkind IN ('r', 'p')`

// Find lists the candidates of in: by shape, then, unless the policy's
// discovery.sample_rows is -1, by a bounded sample of each table that has
// candidates. It changes nothing; sampled values stay in the server.
func Find(ctx context.Context, db DB, in Input, opts Options) (*Result, error) {
	s := newShape(in)
	byName, sample := s.byShape()
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
	tuples, err := readTuples(ctx, db)
	if err != nil {
		return nil, err
	}
	if opts.Budget <= 0 {
		opts.Budget = 5 * time.Second
	}
	if opts.StatementTimeout <= 0 {
		opts.StatementTimeout = 2 * time.Second
	}
	bctx, cancel := context.WithTimeout(ctx, opts.Budget)
	defer cancel()
	var found []*Candidate
	for _, t := range in.Catalog.Tables() {
		refs, cc := sample[t], content[t]
		if len(refs) == 0 && len(cc) == 0 {
			continue
		}
		if bctx.Err() != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Unsampled++
			continue
		}
		if opts.beforeTable != nil {
			opts.beforeTable(t, cancel)
		}
		n := 2*len(refs) + (2+len(contentKinds))*len(cc)
		counts, err := runSample(bctx, db, s.sampleSQL(t, refs, cc, tuples[t.OID], rows), n, opts.StatementTimeout)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil && (timedOut(err) || bctx.Err() != nil):
			res.Unsampled++
			continue
		case err != nil:
			return nil, fmt.Errorf("discovery: sample %s: %w", t, err)
		}
		res.Sampled++
		for i, r := range refs {
			r.Sampled, r.Found = int(counts[2*i]), int(counts[2*i+1])
		}
		found = append(found, contentCandidates(t, cc, counts[2*len(refs):])...)
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

func readTuples(ctx context.Context, q catalog.Querier) (map[uint32]float64, error) {
	rows, err := q.Query(ctx, tuplesSQL)
	if err != nil {
		return nil, fmt.Errorf("discovery: read table sizes: %w", err)
	}
	defer rows.Close()
	out := map[uint32]float64{}
	for rows.Next() {
		var oid uint32
		var n float64
		if err := rows.Scan(&oid, &n); err != nil {
			return nil, fmt.Errorf("discovery: read table sizes: %w", err)
		}
		out[oid] = n
	}
	return out, rows.Err()
}
