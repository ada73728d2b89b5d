package outside

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
)

// Objects is the [purge.Eraser] for the policy's objects: section. For each
// subject it removes every version and delete marker at each location (by
// subject, and by the rows of the tables named in the section) and counts
// them per location template for the receipt. It is safe for concurrent
// use by the purge's workers.
type Objects struct {
	store   objstore.Store
	bySubj  []objstore.Location
	byRows  []rowsRule
	columns []string
	logger  *slog.Logger

	mu sync.Mutex
	// erased remembers, per subject key, the objects named by rows that
	// Erase removed, for Verify: after commit the rows are gone.
	erased map[string][]objstore.Resolved
}

var _ purge.Eraser = (*Objects)(nil)

// NewObjects returns the eraser for rules, which the policy has checked;
// store serves every location.
func NewObjects(rules []policy.ObjectRule, store objstore.Store, logger *slog.Logger) (*Objects, error) {
	o := &Objects{store: store, logger: logger, erased: map[string][]objstore.Resolved{}}
	var errs []error
	var ph [][]string
	for _, r := range rules {
		if r.ByRows() {
			rr, err := newRowsRule(r)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			o.byRows = append(o.byRows, rr)
			continue
		}
		loc, err := objstore.ParseLocation(r.Location)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.bySubj = append(o.bySubj, loc)
		ph = append(ph, loc.Placeholders())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, &jobs.ConfigError{Err: fmt.Errorf("objects: %w", err)}
	}
	o.columns = columnsOf(ph...)
	return o, nil
}

// Name implements [purge.Eraser].
func (o *Objects) Name() string { return "objects" }

// Columns returns the subject-table columns the location templates use.
func (o *Objects) Columns() []string { return o.columns }

// Erase removes each subject's objects or, in a dry run, counts them. A
// subject's outcome has an error unless every location was seen empty
// afterwards; a version under Object Lock makes it wrap
// objstore.ErrObjectLocked.
func (o *Objects) Erase(ctx context.Context, b *purge.Batch) []purge.Outcome {
	outs := make([]purge.Outcome, len(b.Subjects))
	rows, rowErrs := o.readRows(ctx, b)
	forEach(len(b.Subjects), func(i int) {
		s := b.Subjects[i]
		outs[i] = o.eraseSubject(ctx, s, rows[s.Key], b.DryRun)
		if err := rowErrs[s.Key]; err != nil {
			outs[i].Err = errors.Join(err, outs[i].Err)
		}
	})
	if b.DryRun {
		o.logDry(outs)
		return outs
	}
	o.mu.Lock()
	for i, s := range b.Subjects {
		if len(rows[s.Key]) > 0 && outs[i].Err == nil {
			o.erased[s.Key] = rows[s.Key]
		} else {
			delete(o.erased, s.Key)
		}
	}
	o.mu.Unlock()
	return outs
}

// eraseSubject deletes (or counts) everything at the subject's locations
// and at the objects its rows name, going on past failures.
func (o *Objects) eraseSubject(ctx context.Context, s purge.Subject, rows []objstore.Resolved, dry bool) purge.Outcome {
	out := purge.Outcome{Objects: map[string][2]int64{}}
	locs, errs := o.resolve(s)
	locs = append(locs, rows...)
	for _, loc := range locs {
		var (
			r   objstore.Removed
			err error
		)
		if dry {
			r, err = objstore.Usage(ctx, o.store, loc)
		} else {
			r, err = o.store.Delete(ctx, loc)
		}
		c := out.Objects[loc.Template]
		out.Objects[loc.Template] = [2]int64{c[0] + r.Versions + r.DeleteMarkers, c[1] + r.Bytes}
		if err != nil {
			errs = append(errs, err)
		}
	}
	out.Err = errors.Join(errs...)
	return out
}

// resolve fills the subject's location templates. A template whose column
// is NULL for this subject names nothing and is left out.
func (o *Objects) resolve(s purge.Subject) ([]objstore.Resolved, []error) {
	values := subjectValues(s)
	var (
		out  []objstore.Resolved
		errs []error
	)
	for _, l := range o.bySubj {
		if _, null := missing(l.Placeholders(), values); null {
			continue
		}
		r, err := l.Resolve(values)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errs
}

// Verify lists every location of each subject again, all versions
// included, and the objects its rows named; anything found, or a location
// that cannot be listed, is an error for that subject.
func (o *Objects) Verify(ctx context.Context, subjects []purge.Subject) []error {
	errs := make([]error, len(subjects))
	o.mu.Lock()
	rows := make([][]objstore.Resolved, len(subjects))
	for i, s := range subjects {
		rows[i] = o.erased[s.Key]
		delete(o.erased, s.Key)
	}
	o.mu.Unlock()
	forEach(len(subjects), func(i int) {
		locs, rerrs := o.resolve(subjects[i])
		locs = append(locs, rows[i]...)
		left := map[string]bool{}
		for _, loc := range locs {
			found, err := objstore.Exists(ctx, o.store, loc)
			if err != nil {
				rerrs = append(rerrs, err)
			} else if found {
				left[loc.Template] = true
			}
		}
		if len(left) > 0 {
			names := make([]string, 0, len(left))
			for t := range left {
				names = append(names, t)
			}
			sort.Strings(names)
			rerrs = append(rerrs, fmt.Errorf("objects remain at %s", strings.Join(names, ", ")))
		}
		errs[i] = errors.Join(rerrs...)
	})
	return errs
}

// logDry logs, per location template, what a real run would remove.
func (o *Objects) logDry(outs []purge.Outcome) {
	type total struct{ subjects, objects, bytes int64 }
	per := map[string]*total{}
	for _, out := range outs {
		for t, c := range out.Objects {
			if per[t] == nil {
				per[t] = &total{}
			}
			if c[0] > 0 {
				per[t].subjects++
			}
			per[t].objects += c[0]
			per[t].bytes += c[1]
		}
	}
	names := make([]string, 0, len(per))
	for t := range per {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		o.logger.Info("dry run: objects a run would remove", slog.String("location", t),
			slog.Int64("subjects", per[t].subjects), slog.Int64("objects", per[t].objects), slog.Int64("bytes", per[t].bytes))
	}
}
