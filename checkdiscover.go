package main

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/discover"
	"github.com/lethe-project/lethe/draft"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// discoveryStats says how far discovery's sample went.
type discoveryStats struct {
	Candidates      int `json:"candidates"`
	SampledTables   int `json:"sampled_tables"`
	UnsampledTables int `json:"unsampled_tables"`
}

// discovery is lethe check's discovery, started before the plan is built
// (startDiscovery) and turned into warnings after (warnings).
type discovery struct {
	pol  *policy.Policy
	cat  *catalog.Catalog
	cov  *discover.Coverage
	done chan struct{}
	res  *discover.Result
	err  error
	stop context.CancelFunc
}

// startDiscovery runs discover.Find in the background; nothing runs when
// the subject does not resolve (a problem already).
func startDiscovery(ctx context.Context, pool *pgxpool.Pool, pol *policy.Policy, cat *catalog.Catalog, logger *slog.Logger) *discovery {
	d := &discovery{pol: pol, cat: cat, cov: discover.NewCoverage(cat, pol), done: make(chan struct{})}
	if d.cov == nil {
		close(d.done)
		return d
	}
	ctx, d.stop = context.WithCancel(ctx)
	in := discover.Input{Catalog: cat, Subject: d.cov.Subject(), Deleted: d.cov.DeletedTargets(), Config: pol.Discovery, Covered: d.cov.Handled}
	go func() {
		defer close(d.done)
		d.res, d.err = discover.Find(ctx, pool, in, discover.Options{Logger: logger})
	}()
	return d
}

// wait stops the discovery if it still runs (lethe check returns early)
// and waits for it.
func (d *discovery) wait() {
	if d.stop != nil {
		d.stop()
	}
	<-d.done
}

// warnings waits for the discovery and returns a warning for every
// candidate the policy does not classify, every ignore entry that matches
// nothing, and every match column with no index.
func (d *discovery) warnings(ctx context.Context, pool *pgxpool.Pool, pl *plan.Plan) ([]checkItem, *discoveryStats, error) {
	<-d.done
	pol, cat, cov, res := d.pol, d.cat, d.cov, d.res
	if cov == nil {
		return nil, nil, nil // the subject does not resolve: a problem already
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	stats := &discoveryStats{Candidates: len(res.Candidates), SampledTables: res.Sampled, UnsampledTables: res.Unsampled}
	cov.UseFKs()
	var out []checkItem
	for _, c := range res.Candidates {
		item := checkItem{Kind: string(c.Kind), Table: c.Table.String(), Column: c.Column.Name, Sampled: c.Sampled, Found: c.Found}
		if conf := c.Confidence(); conf >= 0 {
			item.Confidence = &conf
		}
		if c.Kind == discover.Reference {
			if cov.Reference(c.Table, c.Column.Name) != "" {
				continue
			}
			item.References = c.To.String() + "." + c.ToColumn.Name
			item.Message = fmt.Sprintf("%s may refer to %s.%s with no foreign key: %s", c, c.To, c.ToColumn.Name, c.Evidence())
			item.Suggestion = referenceSuggestion(c, cov)
		} else {
			if cov.Personal(c.Table, c.Column.Name) != "" {
				continue
			}
			item.Message = fmt.Sprintf("%s may hold personal data that no rule handles: %s", c, c.Evidence())
			item.Suggestion = personalSuggestion(c, pol, cat)
		}
		out = append(out, item)
	}
	for _, ig := range cov.Stale() {
		t, _ := cat.Lookup(ig.Table)
		col := ""
		if !ig.Column.IsZero() {
			col = ig.Column.Column()
		}
		out = append(out, checkItem{Kind: kindStaleIgnore, Line: ig.Line, Table: t.String(), Column: col,
			Message:    fmt.Sprintf("the ignore entry for %s matches nothing: no foreign key into the subject or a deleted table, no discovered reference and no personal data", ignoreName(ig)),
			Suggestion: "remove the entry (or fix its table or column name)"})
	}
	if pl != nil {
		idx, err := unindexed(ctx, pool, pl)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, idx...)
	}
	return out, stats, nil
}

func ignoreName(ig *policy.Ignore) string {
	if ig.Column.IsZero() {
		return ig.Table.String()
	}
	return ig.Table.String() + "." + ig.Column.String()
}

// referenceSuggestion is the rule (or ignore entry) to add for c.
func referenceSuggestion(c *discover.Candidate, cov *discover.Coverage) string {
	var via *catalog.Table
	if c.To != cov.Subject().Table {
		via = c.To
	}
	r := draft.Suggest(c.Table, c.Column.Name, nil, via)
	return fmt.Sprintf("add to tables: - %s (or to ignore: - %s)", r.OneLine(),
		draft.IgnoreLine(c.Table, c.Column.Name, "why no action is needed"))
}

// personalSuggestion is the set: (or ignore entry) to add for c.
func personalSuggestion(c *discover.Candidate, pol *policy.Policy, cat *catalog.Catalog) string {
	ignore := draft.IgnoreLine(c.Table, c.Column.Name, "why this is not personal data, or why it stays")
	value := "null"
	if c.Column.NotNull {
		value = `{pseudonym: "deleted-"}`
	}
	for _, r := range pol.Tables {
		if t, ok := cat.Lookup(r.Table); ok && t == c.Table {
			return fmt.Sprintf("add %s: %s to the set: of the rule at line %d (or to ignore: - %s)", draft.ColumnName(c.Column.Name), value, r.Line, ignore)
		}
	}
	return fmt.Sprintf("add a rule for %s that reaches the subject (or to ignore: - %s)", c.Table, ignore)
}

const indexedSQL = `
SELECT i.indrelid, a.attname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indisvalid OR NOT i.indisready`

// unindexed returns a warning for every column a step matches on that is
// not the first column of an index: each batch would scan the table.
func unindexed(ctx context.Context, q catalog.Querier, pl *plan.Plan) ([]checkItem, error) {
	rows, err := q.Query(ctx, indexedSQL)
	if err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	type key struct {
		oid uint32
		col string
	}
	indexed := map[key]bool{}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.oid, &k.col); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read indexes: %w", err)
		}
		indexed[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read indexes: %w", err)
	}
	var out []checkItem
	for _, s := range pl.Steps {
		if s.Match == nil {
			continue
		}
		k := key{s.Table.OID, s.Match.Name}
		if indexed[k] {
			continue
		}
		indexed[k] = true // once per column
		stmt := fmt.Sprintf("CREATE INDEX CONCURRENTLY ON %s (%s);", s.Table.Ident(), pgx.Identifier{s.Match.Name}.Sanitize())
		if s.Table.Partitioned {
			stmt = fmt.Sprintf("CREATE INDEX ON %s (%s); -- partitioned: PostgreSQL builds it on each partition, not concurrently", s.Table.Ident(), pgx.Identifier{s.Match.Name}.Sanitize())
		}
		out = append(out, checkItem{Kind: kindUnindexed, Line: s.Line, Table: s.Table.String(), Column: s.Match.Name,
			Message:    fmt.Sprintf("%s.%s, which the %s step matches on, has no index: each batch would scan %s", s.Table, s.Match.Name, s.Action, s.Table),
			Suggestion: stmt})
	}
	return out, nil
}

// problemPatterns find the table a planner problem is about.
var problemPatterns = []*regexp.Regexp{
	regexp.MustCompile(`^rule for ([^ :]+)`),
	regexp.MustCompile(`^ignore:? ([^ :]+)`),
	regexp.MustCompile(`^([^ ]+)\.[^ .]+ references `),
	regexp.MustCompile(`^reference from ([^ :]+)`),
	regexp.MustCompile(`^(subject)`),
}

// problemTable returns the table a problem message is about, or "".
func problemTable(msg string) string {
	for _, re := range problemPatterns {
		if m := re.FindStringSubmatch(msg); m != nil {
			if m[1] == "table" {
				continue
			}
			return strings.TrimSuffix(m[1], ",")
		}
	}
	return ""
}

// suggestCoverage adds, to each problem of a foreign key no rule covers,
// the rule to add.
func suggestCoverage(rep *checkReport, cat *catalog.Catalog, pol *policy.Policy) {
	cov := discover.NewCoverage(cat, pol)
	if cov == nil {
		return
	}
	for _, fk := range cat.FKs {
		if fk.Parent != cov.Subject().Table && !cov.Deleted[fk.Parent] || len(fk.ChildCols) != 1 {
			continue
		}
		col := fk.ChildCols[0]
		if cov.Reference(fk.Child, col) != "" {
			continue
		}
		var via *catalog.Table
		if fk.Parent != cov.Subject().Table {
			via = fk.Parent
		}
		prefix := fmt.Sprintf("%s.%s references %s(", fk.Child, col, fk.Parent)
		for i := range rep.Problems {
			p := &rep.Problems[i]
			if p.Kind == kindPolicy && p.Suggestion == "" && strings.HasPrefix(p.Message, prefix) {
				p.Suggestion = "add to tables: - " + draft.Suggest(fk.Child, col, fk, via).OneLine()
				p.Column = col
			}
		}
	}
}
