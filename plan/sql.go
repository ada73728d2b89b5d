package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// A step's statements take $1, the subjects' keys as text, and $2, their
// pseudonym suffixes in the same order; literals of set: follow.

// pairs returns a subquery of (val, k, h) rows: val is a value of the
// step's Match column that belongs to the subject with key k, whose
// pseudonym suffix is h.
func (s *Step) pairs(depth int, key *catalog.Column) string {
	if s.Via == nil {
		cast := "p.k"
		if !s.Match.Textual() {
			cast = "p.k::" + key.Type
		}
		return fmt.Sprintf("SELECT %s AS val, p.k, p.h FROM unnest($1::text[], $2::text[]) AS p(k, h)", cast)
	}
	v := fmt.Sprintf("v%d", depth)
	ref := v + "." + s.Ref.Ident()
	if s.Match.Type != s.Ref.Type && s.Match.Textual() {
		ref += "::text"
	}
	ref += " AS val"
	for i, x := range s.extra {
		ref += fmt.Sprintf(", %s.%s AS x%d", v, x[1].Ident(), i)
	}
	return fmt.Sprintf("SELECT %s, s%d.k, s%d.h FROM %s %s JOIN (%s) s%d ON %s WHERE %s",
		ref, depth, depth, s.Via.Table.Ident(), v, s.Via.pairs(depth+1, key), depth, s.Via.joinOn(v, fmt.Sprintf("s%d", depth)),
		s.Via.filter(v, depth+1, key))
}

// joinOn is the condition that joins the step's rows (alias t) with its
// pairs (alias p): the match column, and the further columns of a
// multi-column key.
func (s *Step) joinOn(t, p string) string {
	on := fmt.Sprintf("%s.%s = %s.val", t, s.Match.Ident(), p)
	for i, x := range s.extra {
		on += fmt.Sprintf(" AND %s.%s = %s.x%d", t, x[0].Ident(), p, i)
	}
	return on
}

// filter returns a condition on the step's rows (under alias) of the form
// match = ANY(array): the join with pairs alone lets the planner hash-join a
// sequential scan of the whole table, while an array condition uses the
// index on the match column for each batch.
func (s *Step) filter(alias string, depth int, key *catalog.Column) string {
	col := alias + "." + s.Match.Ident()
	if s.Via == nil {
		if s.Match.Textual() {
			return col + " = ANY($1::text[])"
		}
		return fmt.Sprintf("%s = ANY($1::text[]::%s[])", col, key.Type)
	}
	if len(s.extra) > 0 {
		cols, vals := col, fmt.Sprintf("f%d.val", depth)
		for i, x := range s.extra {
			cols += ", " + alias + "." + x[0].Ident()
			vals += fmt.Sprintf(", f%d.x%d", depth, i)
		}
		return fmt.Sprintf("(%s) IN (SELECT %s FROM (%s) f%d)", cols, vals, s.pairs(depth, key), depth)
	}
	return fmt.Sprintf("%s = ANY(ARRAY(SELECT f%d.val FROM (%s) f%d))", col, depth, s.pairs(depth, key), depth)
}

// Statement is one SQL statement with its arguments after $1 and $2.
type Statement struct {
	// SQL returns (subject key, row count) rows.
	SQL string
	// Args are the literal arguments, $3 onwards.
	Args []any
}

// SQL returns the statement that carries the step out, or, with count,
// the one that only counts the rows it would touch. The statement returns
// one (subject key, rows) row per subject that has rows.
func (s *Step) SQL(key *catalog.Column, count bool, purgedAt *catalog.Column) Statement {
	// A direct match whose column the step leaves alone names the subject
	// itself: the rows need no join with the keys, t.match::text is the
	// key. Otherwise (via, a replaced match column, a pseudonym) the rows
	// are joined with the (val, k, h) pairs.
	direct := s.Via == nil && !s.setsMatchOrPseudonym()
	where := s.filter("t", 10, key)
	from, keyExpr := fmt.Sprintf("%s t JOIN (%s) s ON %s WHERE %s", s.Table.Ident(), s.pairs(0, key), s.joinOn("t", "s"), where), "s.k"
	if direct {
		// $2 is unused here but must appear for its type to be known.
		from, keyExpr = fmt.Sprintf("%s t WHERE %s AND $2::text[] IS NOT NULL", s.Table.Ident(), where), "t."+s.Match.Ident()+"::text"
	}
	if count || s.Action == policy.Cascade || (s.Action == policy.Keep && len(s.Set) == 0) {
		from += s.notEarlier(key)
		return Statement{SQL: fmt.Sprintf("SELECT %s, count(*) FROM %s GROUP BY 1", keyExpr, from)}
	}
	using := ""
	if !direct {
		using = fmt.Sprintf(" (%s) s", s.pairs(0, key))
		where = fmt.Sprintf("%s AND %s", s.joinOn("t", "s"), where)
	} else {
		where += " AND $2::text[] IS NOT NULL"
	}
	var dml string
	var args []any
	switch s.Action {
	case policy.Delete:
		if using != "" {
			using = " USING" + using
		}
		dml = fmt.Sprintf("DELETE FROM %s t%s WHERE %s RETURNING %s AS k", s.Table.Ident(), using, where, keyExpr)
	default:
		var sets []string
		for _, sc := range s.Set {
			var expr string
			switch sc.Value.Kind {
			case policy.Null:
				expr = "NULL"
			case policy.Literal:
				args = append(args, sc.Value.Text)
				expr = fmt.Sprintf("$%d::text::%s", len(args)+2, sc.Column.Type)
			case policy.Pseudonym:
				args = append(args, sc.Value.Prefix)
				expr = fmt.Sprintf("($%d::text || s.h)::%s", len(args)+2, sc.Column.Type)
			}
			sets = append(sets, sc.Column.Ident()+" = "+expr)
		}
		if purgedAt != nil {
			sets = append(sets, purgedAt.Ident()+" = now()")
		}
		if using != "" {
			using = " FROM" + using
		}
		dml = fmt.Sprintf("UPDATE %s t SET %s%s WHERE %s RETURNING %s AS k",
			s.Table.Ident(), strings.Join(sets, ", "), using, where, keyExpr)
	}
	return Statement{SQL: fmt.Sprintf("WITH d AS (%s) SELECT k, count(*) FROM d GROUP BY k", dml), Args: args}
}

// VerifySQL returns the statement that counts, per subject, every row the
// step matches, those an earlier step deletes too: after the batch, a row
// left behind is a leftover whichever rule found it.
func (s *Step) VerifySQL(key *catalog.Column) Statement {
	c := *s
	c.earlier = nil
	return c.SQL(key, true, nil)
}

// setsMatchOrPseudonym reports whether the step replaces its own match
// column (RETURNING would then see the new value, not the key) or writes a
// pseudonym (which needs each row's subject).
func (s *Step) setsMatchOrPseudonym() bool {
	for _, sc := range s.Set {
		if sc.Column == s.Match || sc.Value.Kind == policy.Pseudonym {
			return true
		}
	}
	return false
}

func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// ValuesSQL returns a query that lists, for the subjects in $1 (keys) and
// $2 (pseudonym suffixes, may be empty strings), each row's subject key and
// the value of column col as text: how an eraser reads, before the rows go,
// the object keys a table stores for the subjects.
func (s *Step) ValuesSQL(key *catalog.Column, col string) (string, error) {
	c, ok := s.Table.Columns[col]
	if !ok {
		return "", fmt.Errorf("column %s does not exist in table %s", col, s.Table)
	}
	return fmt.Sprintf("SELECT s.k, t.%s::text FROM %s t JOIN (%s) s ON %s WHERE t.%s IS NOT NULL AND %s",
		c.Ident(), s.Table.Ident(), s.pairs(0, key), s.joinOn("t", "s"), c.Ident(), s.filter("t", 10, key)), nil
}

// SelectSQL returns a query that reads the step's rows for the subjects in
// $1 (keys as text; $2, their pseudonym suffixes, as for SQL, may be empty
// strings): list is a select list over the step's table under alias t. The
// rows are exactly those the step would touch, not those an earlier step
// deletes (its count is the count of SQL with count), in no particular order: sorting a large subject's rows
// would cost the export a quarter of its speed. It is how the export reads
// what the purge would erase.
func (s *Step) SelectSQL(key *catalog.Column, list string) string {
	return fmt.Sprintf("SELECT %s FROM %s t WHERE %s AND $2::text[] IS NOT NULL%s", list, s.Table.Ident(), s.filter("t", 10, key), s.notEarlier(key))
}

// notEarlier is a condition that leaves out the rows an earlier step
// deletes: in a real run they are gone when the step runs, so it neither
// touches nor counts them (and an export lists each row once).
func (s *Step) notEarlier(key *catalog.Column) string {
	var out string
	for i, e := range s.earlier {
		out += fmt.Sprintf(" AND (%s) IS NOT TRUE", e.filter("t", 20+10*i, key))
	}
	return out
}

// StepsOn returns the steps that act on table t, in execution order.
func (pl *Plan) StepsOn(t *catalog.Table) []*Step {
	var out []*Step
	for _, s := range pl.Steps {
		if s.Table == t {
			out = append(out, s)
		}
	}
	return out
}
