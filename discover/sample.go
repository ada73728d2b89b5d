package discover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/catalog"
)

// DefaultSampleRows is the most rows one table's sample reads.
const DefaultSampleRows = 1000

// minDistinct is how many distinct values a column needs before "all of
// them are subject keys" makes it a reference whatever its name: a column
// of small numbers (a position, a priority) is easily all valid ids.
const minDistinct = 10

// minContentShare is the share of sampled values that must look like an
// e-mail address, an IP address or a phone number for the column to be
// reported as personal by its content.
const minContentShare = 0.2

// Options bounds the sampling.
type Options struct {
	// Budget is the most time all samples together may take; when it runs
	// out the remaining tables are not sampled and Result.Unsampled says
	// how many. Zero means 3 seconds, so that lethe check on a 1,000-table
	// schema stays within 5 seconds.
	Budget time.Duration
	// StatementTimeout bounds each sample query. Zero means 2 seconds.
	StatementTimeout time.Duration
	// Logger, when set, gets a debug line with the time of each phase.
	Logger *slog.Logger

	// beforeTable, in tests, runs before each table's sample; expire ends
	// the budget as if the time were up.
	beforeTable func(t *catalog.Table, expire func())
}

// Result is what discovery found.
type Result struct {
	// Candidates lists the columns found, by table and column order.
	Candidates []*Candidate
	// Sampled is how many tables were sampled.
	Sampled int
	// Unsampled is how many tables with candidates were not sampled: the
	// time budget ran out, a sample's statement timed out, or lethe's
	// role may not read the table.
	Unsampled int
}

const (
	emailRE = `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`
	ipRE    = `(^|[^0-9.])([0-9]{1,3}\.){3}[0-9]{1,3}([^0-9.]|$)`
	phoneRE = `^\+[0-9][0-9 ().-]{6,18}[0-9]$|^\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4}$`
	uuidRE  = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
)

// contentKinds are the personal contents sampled in text, in the order of
// the aggregates. guard is a cheap condition that every match meets (the
// text holds an @, a dot, or has a phone number's length), tested before
// the regular expression: most values fail it, and a regular expression
// costs more per value than the rest of a sample.
var contentKinds = []struct{ name, re, guard string }{
	{"e-mail addresses", emailRE, "strpos(%s, '@') > 0"},
	{"IP addresses", ipRE, "strpos(%s, '.') > 0"},
	{"phone numbers", phoneRE, "length(%s) BETWEEN 9 AND 21"},
}

// keyExpr is the SQL that turns the sampled value v (of column col) into
// a value comparable with key, or NULL when it cannot be one.
func keyExpr(v string, col, key *catalog.Column) string {
	switch {
	case col.Type == key.Type || integer(col) && integer(key):
		return v
	case key.Textual():
		return v + "::text"
	case integer(key):
		return fmt.Sprintf("CASE WHEN %s ~ '^-?[0-9]{1,18}$' THEN %s::bigint END", v, v)
	case key.Type == "uuid":
		return fmt.Sprintf("CASE WHEN %s ~ '^%s$' THEN %s::uuid END", v, uuidRE, v)
	}
	return fmt.Sprintf("%s::%s", v, key.Type)
}

// keyInside is the SQL that extracts a subject key from inside a text or
// JSON value v, and a cheap condition every value that holds one meets
// (a uuid's dash, a JSON key's _id"); "" when keys of that type cannot be
// told apart from other text.
func (s *shape) keyInside(v string, json bool) (expr, guard string) {
	key := s.in.Subject.Key
	switch {
	case key.Type == "uuid":
		return fmt.Sprintf("substring(%s from '%s')::uuid", v, uuidRE), fmt.Sprintf("strpos(%s, '-') > 0", v)
	case integer(key) && json:
		sub := singular(s.in.Subject.Table.Name)
		return fmt.Sprintf(`substring(%s from '"(?:[a-z_]*user_id|author_id|owner_id|creator_id|[a-z_]*_by_id|[a-z_]*%s_id)"\s*:\s*"?([0-9]{1,18})')::bigint`, v, sub),
			fmt.Sprintf(`strpos(%s, '_id"') > 0`, v)
	}
	return "", ""
}

// exists is the SQL that says whether expr is a key of tg.
func exists(expr string, tg Target) string {
	return fmt.Sprintf("EXISTS (SELECT 1 FROM %s k WHERE k.%s = %s)", tg.Table.Ident(), tg.Key.Ident(), expr)
}

// fromClause is the FROM item that reads at most rows rows of t: the
// whole table (up to the cap) when it is small, else TABLESAMPLE SYSTEM
// with the share of pages that holds about four times the cap.
func fromClause(t *catalog.Table, tuples float64, rows int) string {
	if tuples <= float64(10*rows) {
		return t.Ident()
	}
	pct := 400 * float64(rows) / tuples
	return fmt.Sprintf("%s TABLESAMPLE SYSTEM (%.4f)", t.Ident(), max(pct, 0.0001))
}

// contentCol is one column sampled for personal content.
type contentCol struct {
	col  *catalog.Column
	json bool
}

// sampleSQL builds one table's query: the candidates' distinct values and
// those found in their target, and the content columns' counts. The
// server counts; no value leaves it.
func (s *shape) sampleSQL(t *catalog.Table, refs []*Candidate, content []contentCol, tuples float64, rows int) string {
	var cols, aggs []string
	alias := map[*catalog.Column]string{}
	use := func(c *catalog.Column) string {
		if a, ok := alias[c]; ok {
			return a
		}
		a := fmt.Sprintf("c%d", len(alias))
		alias[c] = a
		cols = append(cols, fmt.Sprintf("%s AS %s", c.Ident(), a))
		return "s." + a
	}
	for _, r := range refs {
		v := use(r.Column)
		aggs = append(aggs, fmt.Sprintf("count(DISTINCT %s)", v),
			fmt.Sprintf("count(DISTINCT %s) FILTER (WHERE %s)", v, exists(keyExpr(v, r.Column, r.ToColumn), Target{r.To, r.ToColumn})))
	}
	for _, cc := range content {
		v := use(cc.col)
		tv := v + "::text"
		aggs = append(aggs, fmt.Sprintf("count(%s)", v))
		for _, k := range contentKinds {
			aggs = append(aggs, fmt.Sprintf("count(*) FILTER (WHERE %s AND %s ~ '%s')", fmt.Sprintf(k.guard, tv), tv, k.re))
		}
		inside := "0"
		if expr, guard := s.keyInside(tv, cc.json); expr != "" {
			inside = fmt.Sprintf("count(*) FILTER (WHERE %s AND %s)", guard, exists(expr, s.in.Subject))
		}
		aggs = append(aggs, inside)
	}
	return fmt.Sprintf("SELECT %s FROM (SELECT %s FROM %s LIMIT %d) s",
		strings.Join(aggs, ", "), strings.Join(cols, ", "), fromClause(t, tuples, rows), rows)
}

// tableSample is one table's sample query and, once run, its counts.
type tableSample struct {
	t      *catalog.Table
	refs   []*Candidate
	cc     []contentCol
	sql    string
	n      int
	counts []int64 // nil until sampled
}

// batchSize is how many tables' samples go to the server in one round
// trip: a thousand tables in forty.
const batchSize = 25

// sampleWorkers is how many connections sample at once: the time goes
// mostly into the server's first look at each table (its catalog entries),
// which connections do side by side.
const sampleWorkers = 3

// runSamples runs the samples on up to sampleWorkers connections of the
// pool, each made read-only for its session, batchSize tables at a time;
// the budget (bctx) is checked before each table is queued. A statement
// timeout stops a batch at the table that was too slow: that one stays
// unsampled and the rest go on. The connections are closed afterwards,
// not returned to the pool with their session settings.
func runSamples(ctx, bctx context.Context, expire func(), pool *pgxpool.Pool, todo []*tableSample, opts Options) error {
	if len(todo) == 0 {
		return nil
	}
	workers := min(sampleWorkers, int(pool.Config().MaxConns)-1, (len(todo)+batchSize-1)/batchSize)
	if opts.beforeTable != nil {
		workers = 1 // tests count tables in order
	}
	batches := make(chan []*tableSample)
	errs := make(chan error, max(workers, 1))
	var wg sync.WaitGroup
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sampleWorker(ctx, pool, batches, opts)
		}()
	}
feed:
	for i := 0; i < len(todo); {
		var batch []*tableSample
		for ; i < len(todo) && len(batch) < batchSize; i++ {
			if opts.beforeTable != nil {
				opts.beforeTable(todo[i].t, expire)
			}
			if bctx.Err() != nil {
				break
			}
			batch = append(batch, todo[i])
		}
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-ctx.Done():
				break feed
			}
		}
		if bctx.Err() != nil {
			break // the rest stay unsampled
		}
	}
	close(batches)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// sampleWorker runs the batches it receives on a connection of its own.
func sampleWorker(ctx context.Context, pool *pgxpool.Pool, batches <-chan []*tableSample, opts Options) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		for range batches {
		}
		return fmt.Errorf("discovery: %w", err)
	}
	defer func() {
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
		conn.Release()
	}()
	setup := fmt.Sprintf("SET default_transaction_read_only = on; SET statement_timeout = %d", opts.StatementTimeout.Milliseconds())
	if _, err := conn.Exec(ctx, setup); err != nil {
		for range batches {
		}
		return fmt.Errorf("discovery: %w", err)
	}
	var failed error
	for batch := range batches {
		if failed == nil {
			failed = sendBatch(ctx, conn.Conn(), batch)
		}
	}
	return failed
}

// sendBatch runs a batch's samples in one round trip; after a statement
// timeout the server skips the rest of the batch, which is sent again
// without the slow table.
func sendBatch(ctx context.Context, conn *pgx.Conn, batch []*tableSample) error {
	for len(batch) > 0 {
		b := &pgx.Batch{}
		for _, ts := range batch {
			b.Queue(ts.sql)
		}
		br := conn.SendBatch(ctx, b)
		failed := -1
		var ferr error
		for k, ts := range batch {
			counts := make([]int64, ts.n)
			dest := make([]any, ts.n)
			for j := range counts {
				dest[j] = &counts[j]
			}
			if err := br.QueryRow().Scan(dest...); err != nil {
				failed, ferr = k, err
				break
			}
			ts.counts = counts
		}
		_ = br.Close()
		switch {
		case failed < 0:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !timedOut(ferr) && !denied(ferr):
			return fmt.Errorf("discovery: sample %s: %w", batch[failed].t, ferr)
		}
		batch = batch[failed+1:]
	}
	return nil
}

// timedOut reports whether err is a statement timeout or the budget.
// denied reports whether err says lethe's role may not read the table: a
// least-privilege role (lethe grants) reads only the policy's tables, so
// the others stay unsampled and are found by their shape alone.
func denied(err error) bool {
	var pe interface{ SQLState() string }
	return errors.As(err, &pe) && pe.SQLState() == "42501"
}

func timedOut(err error) bool {
	var pe interface{ SQLState() string }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &pe) && pe.SQLState() == "57014"
}
