package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// part is one step's share of the archive: its file and the queries that
// read and count its rows. Both take $1 the key (as a one-element array)
// and $2 an unused pseudonym suffix, as the purge's statements do.
type part struct {
	step  *plan.Step
	entry TableEntry
	cols  []outColumn
	rows  string
	count string
	// rowsText is rows with every column cast to text, whose binary form
	// is its text: for a pipeline of queries, which cannot ask for text.
	rowsText string
}

// buildParts returns one part per step, the subject row first, then the
// plan's steps in order.
func buildParts(pl *plan.Plan) ([]*part, error) {
	pol := pl.Policy
	steps := append([]*plan.Step{pl.Final}, pl.Steps...)
	perTable := map[*catalog.Table]int{}
	for _, s := range steps {
		perTable[s.Table]++
	}
	used := map[string]bool{}
	var parts []*part
	for _, s := range steps {
		// A cascade step has no rule: only the default names are left out.
		var ex policy.Export
		where := "subject"
		switch {
		case s == pl.Final:
			ex = pol.Subject.Export
		case s.Rule != nil:
			ex, where = s.Rule.Export, "rule for "+s.Rule.Table.String()
		}
		if err := checkExcludes(pol, s.Table, ex, where, s.Line); err != nil {
			return nil, err
		}
		list, textList, cols, excluded := projection(s.Table, ex)
		e := TableEntry{Table: s.Table.String(), Schema: s.Table.Schema, Name: s.Table.Name, Category: string(s.Action), Match: s.Match.Name,
			Subject: s == pl.Final, Excluded: excluded, PolicyLine: s.Line}
		if s.Rule != nil {
			e.Basis = s.Rule.Basis
		}
		if s.Via != nil && s.On == nil {
			e.Via = s.Via.Table.String()
		}
		if s.FK != nil {
			e.ForeignKey = s.FK.Name
		}
		e.File = fileName(s, perTable[s.Table] > 1, used)
		sel := s.SelectSQL(pl.Subject.Key, list)
		parts = append(parts, &part{step: s, entry: e, cols: cols,
			rows:     sel,
			rowsText: s.SelectSQL(pl.Subject.Key, textList),
			count:    fmt.Sprintf("SELECT count(*) FROM (%s) x", s.SelectSQL(pl.Subject.Key, "1")),
		})
	}
	return parts, nil
}

// fileName names a step's file: tables/schema.table.jsonl, with the match
// column when the table has several steps, and a number when even that
// repeats (cascades through several parents).
func fileName(s *plan.Step, several bool, used map[string]bool) string {
	base := safeName(s.Table.Schema) + "." + safeName(s.Table.Name)
	if several {
		base += "." + safeName(s.Match.Name)
	}
	name := "tables/" + base + ".jsonl"
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("tables/%s.%d.jsonl", base, i)
	}
	used[name] = true
	return name
}

// safeName keeps an SQL name readable as one file name: no slashes, no
// control characters, not a dot path.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}

// snapshot is the export's one read-only REPEATABLE READ transaction.
type snapshot struct {
	tx  pgx.Tx
	key []string
	at  time.Time
}

// begin opens the snapshot and checks that the subject exists in it. The
// key never appears in an error: the server's message about a malformed
// value would repeat it.
func (j *Job) begin(ctx context.Context, pl *plan.Plan, key string, lockTimeout time.Duration) (*snapshot, error) {
	tx, err := j.cfg.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin export: %w", err)
	}
	snap := &snapshot{tx: tx, key: []string{key}}
	// No statement timeout: a large subject's table may take long to
	// stream, and the snapshot takes no lock but ACCESS SHARE.
	var set [5]string
	err = tx.QueryRow(ctx, `SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true),
		set_config('IntervalStyle', 'postgres', true), set_config('lock_timeout', $1, true),
		set_config('statement_timeout', '0', true), now()`, millis(lockTimeout)).Scan(&set[0], &set[1], &set[2], &set[3], &set[4], &snap.at)
	if err != nil {
		snap.close(ctx)
		return nil, fmt.Errorf("begin export: %w", err)
	}
	snap.at = snap.at.UTC()
	// The key as the subject row holds it (any form the type accepts, such
	// as an upper-case uuid, names the same subject): the steps compare
	// text columns with it, and the manifest hashes it. A key the type
	// would change (too long for a varchar(n)) names nobody.
	k := pl.Subject.Key
	bare := typeModifier.ReplaceAllString(k.Type, "")
	err = tx.QueryRow(ctx, fmt.Sprintf("SELECT t.%s::text FROM %s t WHERE t.%s = $1::text::%s AND $1::text::%s = $1::text::%s",
		k.Ident(), pl.Subject.Table.Ident(), k.Ident(), k.Type, k.Type, bare), key).Scan(&snap.key[0])
	switch {
	case pgerr.IsDataError(err):
		err = &jobs.ConfigError{Err: &subjectError{fmt.Sprintf("the subject key is not a valid %s", k.Type)}}
	case errors.Is(err, pgx.ErrNoRows):
		err = &jobs.ConfigError{Err: &subjectError{fmt.Sprintf("no such subject in %s", pl.Subject.Table)}}
	case err != nil:
		err = fmt.Errorf("find the subject: %w", pgerr.Redact(err))
	}
	if err != nil {
		snap.close(ctx)
		return nil, err
	}
	return snap, nil
}

// subjectError says that a key names no subject.
type subjectError struct{ msg string }

func (e *subjectError) Error() string { return e.msg }

// typeModifier matches a type's modifier, such as (5) in character
// varying(5).
var typeModifier = regexp.MustCompile(`\([0-9, ]+\)`)

// millis spells a duration as a setting in milliseconds; 0 is no limit.
func millis(d time.Duration) string {
	return fmt.Sprint(d.Milliseconds())
}

// close ends the snapshot; again is a no-op.
func (s *snapshot) close(ctx context.Context) {
	_ = s.tx.Rollback(context.WithoutCancel(ctx))
}

// count returns the number of rows of a part.
func (s *snapshot) count(ctx context.Context, p *part) (int64, error) {
	var n int64
	if err := s.tx.QueryRow(ctx, p.count, s.key, []string{""}).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", p.step, err)
	}
	return n, nil
}

// streamRows writes rows, read as text, to w as JSON Lines.
func streamRows(rows pgx.Rows, p *part, w io.Writer) (int64, error) {
	defer rows.Close()
	var n int64
	var line []byte
	for rows.Next() {
		line = appendRow(line[:0], p.cols, rows.RawValues())
		if _, err := w.Write(line); err != nil {
			return n, fmt.Errorf("write %s: %w", p.entry.File, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read %s: %w", p.step, err)
	}
	return n, nil
}

// stream writes a part's rows to w, one JSON object per line, as the
// server sends them: no row is held longer than it takes to write it.
func (s *snapshot) stream(ctx context.Context, p *part, w io.Writer) (int64, error) {
	// Text format: every value as its type's output function writes it.
	rows, err := s.tx.Query(ctx, p.rows, pgx.QueryResultFormats{pgx.TextFormatCode}, s.key, []string{""})
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", p.step, err)
	}
	return streamRows(rows, p, w)
}
