package outside

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
)

// rowsRule is an objects: entry whose object keys are stored in a column
// of a table the purge deletes rows from.
type rowsRule struct {
	rule policy.ObjectRule
	// base is the template before its final {column}, such as
	// "s3://app-uploads/".
	base string
	col  string
}

func newRowsRule(r policy.ObjectRule) (rowsRule, error) {
	col := r.Column.Column()
	base, ok := strings.CutSuffix(r.Location, "{"+col+"}")
	if !ok {
		return rowsRule{}, fmt.Errorf("location %q must end in {%s}", r.Location, col)
	}
	return rowsRule{rule: r, base: base, col: col}, nil
}

// resolve turns one stored object key into a location that may be deleted.
// A key may hold "/": each of its path segments fills a placeholder of its
// own, so objstore's checks apply to every segment (none may be empty, ".",
// ".." or hold a control character) and no stored value can climb out of
// the template's fixed part. A key that ends in "/" names every object
// under it. Errors name the policy template, never the key.
func (r rowsRule) resolve(v string) (objstore.Resolved, error) {
	prefix := strings.HasSuffix(v, "/")
	segs := strings.Split(strings.TrimSuffix(v, "/"), "/")
	var t strings.Builder
	t.WriteString(r.base)
	values := make(map[string]string, len(segs))
	for i, s := range segs {
		if i > 0 {
			t.WriteByte('/')
		}
		name := fmt.Sprintf("%s_%d", r.col, i)
		fmt.Fprintf(&t, "{%s}", name)
		values[name] = s
	}
	if prefix {
		t.WriteByte('/')
	}
	loc, err := objstore.ParseLocation(t.String())
	if err == nil {
		var res objstore.Resolved
		if res, err = loc.Resolve(values); err == nil {
			res.Template = r.rule.Location // what errors and receipts name
			return res, nil
		}
	}
	return objstore.Resolved{}, fmt.Errorf("location %s: a key stored in %s.%s is not a safe object key (an empty, \".\" or \"..\" segment, or a control character)",
		r.rule.Location, r.rule.Table, r.rule.Column)
}

// readRows reads, in the batch's transaction and before the rows go, the
// object keys that the by-rows entries' tables hold for the subjects. It
// returns the resolved objects per subject key, and per subject key the
// errors of keys that could not be resolved; a failed query is an error
// for every subject.
func (o *Objects) readRows(ctx context.Context, b *purge.Batch) (map[string][]objstore.Resolved, map[string]error) {
	out := map[string][]objstore.Resolved{}
	errs := map[string]error{}
	seen := map[string]bool{}
	for _, r := range o.byRows {
		err := r.read(ctx, b, func(key, value string) {
			res, err := r.resolve(value)
			if err != nil {
				errs[key] = errors.Join(errs[key], err)
				return
			}
			id := key + "\x00" + res.Template + "\x00" + res.URL()
			if !seen[id] {
				seen[id] = true
				out[key] = append(out[key], res)
			}
		})
		if err != nil {
			for _, k := range b.Keys {
				errs[k] = errors.Join(errs[k], err)
			}
		}
	}
	return out, errs
}

// read calls fn with (subject key, stored value) for every row of the
// rule's table that a delete step of the plan removes for the batch.
func (r rowsRule) read(ctx context.Context, b *purge.Batch, fn func(key, value string)) error {
	fail := func(err error) error {
		// The purge logs an eraser's errors per subject: no server error
		// may quote a value there.
		return fmt.Errorf("objects %s: read %s.%s: %w", r.rule.Location, r.rule.Table, r.rule.Column, pgerr.Redact(err))
	}
	t, ok := b.Plan.Catalog.Lookup(r.rule.Table)
	if !ok {
		return fail(errors.New("no such table"))
	}
	var steps []*plan.Step
	for _, s := range b.Plan.StepsOn(t) {
		if s.Action == policy.Delete || s.Action == policy.Cascade {
			steps = append(steps, s)
		}
	}
	if len(steps) == 0 {
		return fail(errors.New("no delete rule covers the table"))
	}
	for _, s := range steps {
		sql, err := s.ValuesSQL(b.Plan.Subject.Key, r.col)
		if err != nil {
			return fail(err)
		}
		rows, err := b.Tx.Query(ctx, sql, b.Keys, b.Pseudonyms)
		if err != nil {
			return fail(err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return fail(err)
			}
			fn(k, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fail(err)
		}
	}
	return nil
}

// ResolveStoredKey resolves one object key stored in the column of a
// by-rows objects: entry, with the checks the purge applies (lethe export
// reads the same objects). Errors name the template, never the key.
func ResolveStoredKey(r policy.ObjectRule, value string) (objstore.Resolved, error) {
	rr, err := newRowsRule(r)
	if err != nil {
		return objstore.Resolved{}, err
	}
	return rr.resolve(value)
}
