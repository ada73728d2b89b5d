package orphans

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/policy"
)

// objectTarget is one objects: entry resolved against the catalog.
type objectTarget struct {
	rule  *policy.OrphanObjects
	loc   objstore.Location
	valid func(string) bool // whether a key could be a subject key at all
	// exists takes $1, keys as text, and returns those a subject row holds.
	exists string
}

// uuidText matches a uuid as PostgreSQL reads it in its usual forms.
var uuidText = regexp.MustCompile(`^\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$`)

// numberText matches a plain decimal number.
var numberText = regexp.MustCompile(`^-?[0-9]{1,30}(\.[0-9]{1,30})?$`)

func resolveObjects(cat *catalog.Catalog, pol *policy.Policy, r *policy.OrphanObjects, perr *policy.Error) *objectTarget {
	loc, err := objstore.ParseLocation(r.Location)
	if err != nil {
		return nil // reported by the policy's own checks
	}
	st, ok := cat.Lookup(pol.Subject.Table)
	if !ok {
		perr.Add(r.Line, "orphans: objects %s: the subject table %s does not exist", r.Location, pol.Subject.Table)
		return nil
	}
	key, ok := st.Columns[pol.Subject.Key.Column()]
	if !ok {
		perr.Add(r.Line, "orphans: objects %s: the subject key %s does not exist in %s", r.Location, pol.Subject.Key, st)
		return nil
	}
	o := &objectTarget{rule: r, loc: loc}
	switch {
	case key.Type == "uuid":
		o.valid = uuidText.MatchString
	case key.Category == "N":
		o.valid = numberText.MatchString
	case key.Category == "S":
		o.valid = func(string) bool { return true }
	default:
		perr.Add(r.Line, "orphans: objects %s: the subject key %s is %s: lethe supports uuid, integer and text keys", r.Location, key.Name, key.Type)
		return nil
	}
	o.exists = fmt.Sprintf("SELECT k FROM unnest($1::text[]) AS k WHERE EXISTS (SELECT 1 FROM %s s WHERE s.%s = k::%s)",
		st.Ident(), key.Ident(), key.Type)
	return o
}

// group is one prefix listed under the root that names a subject key.
type group struct {
	key string
	sum objstore.PrefixSummary
}

// scan lists the rule's root once, with constant memory, and calls fn for
// each batch of groups (at most LookupSize) whose subject key no subject
// row holds, with whether each is older than min_age. It returns how many
// groups were listed and how many named a subject key.
func (j *Job) scan(ctx context.Context, o *objectTarget, fn func(orphans []group, old []bool) error) (listed, matched int64, err error) {
	cutoff := j.now.Add(-time.Duration(o.rule.MinAge))
	var buf []group
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		keys := make([]string, len(buf))
		for i, g := range buf {
			keys[i] = g.key
		}
		rows, err := j.cfg.Pool.Query(ctx, o.exists, keys)
		if err != nil {
			return fmt.Errorf("look up subjects: %w", err)
		}
		live := map[string]bool{}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return fmt.Errorf("look up subjects: %w", err)
			}
			live[k] = true
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("look up subjects: %w", err)
		}
		var orphans []group
		var old []bool
		for _, g := range buf {
			if !live[g.key] {
				orphans = append(orphans, g)
				old = append(old, !g.sum.LastModified.After(cutoff))
			}
		}
		buf = buf[:0]
		if len(orphans) == 0 {
			return nil
		}
		return fn(orphans, old)
	}
	err = j.cfg.Objects.ListPrefixes(ctx, o.loc.Root(), "/", func(s objstore.PrefixSummary) error {
		listed++
		vals, ok := o.loc.Match(s.Prefix)
		if !ok || !o.valid(vals["key"]) {
			return nil // not named after a subject key: never touched
		}
		matched++
		buf = append(buf, group{key: vals["key"], sum: s})
		if len(buf) >= j.cfg.LookupSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return listed, matched, fmt.Errorf("orphans: objects %s: %w", o.rule.Location, err)
	}
	return listed, matched, nil
}

// surveyObjects lists the rule's root once and applies the guard: if too
// many of the listed groups name no subject, the subject table or the
// template is probably wrong. A dry run reports what it found.
func (j *Job) surveyObjects(ctx context.Context, o *objectTarget) error {
	var orphaned, due, versions, bytes int64
	_, matched, err := j.scan(ctx, o, func(gs []group, old []bool) error {
		for i, g := range gs {
			orphaned++
			if old[i] {
				due++
				versions += g.sum.Versions + g.sum.DeleteMarkers
				bytes += g.sum.Bytes
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	j.s.Report.Add(PrefixesListed, matched)
	j.s.Report.Add(PrefixesOrphaned, orphaned)
	if j.s.DryRun() {
		j.s.Report.Add(PrefixesRemoved, due)
		j.countObjects(objstore.Removed{Versions: versions, Bytes: bytes})
	}
	return j.guard("prefixes under "+o.rule.Location+" named after no subject", orphaned, matched,
		"check subject: (table, key) and the location template")
}

// runObjects removes the rule's orphaned groups that are old enough, every
// version, under an advisory lock that keeps concurrent runs from listing
// the same tree twice. A dry run has counted them in the survey already.
func (j *Job) runObjects(ctx context.Context, o *objectTarget) error {
	if j.s.DryRun() {
		return nil
	}
	if err := j.proceed(ctx); err != nil {
		return err
	}
	unlock, ok, err := j.s.TryLock(ctx, jobs.LockKey(j.Name(), o.rule.Location))
	if err != nil {
		return fmt.Errorf("orphans: objects %s: %w", o.rule.Location, err)
	}
	if !ok {
		j.s.Report.Add(ObjectsRulesSkippedBusy, 1)
		j.cfg.Logger.Warn("objects skipped: another run is working on them", slog.String("location", o.rule.Location))
		return nil
	}
	defer unlock()
	var removed int64
	var errs []error
	_, _, err = j.scan(ctx, o, func(gs []group, old []bool) error {
		if err := j.proceed(ctx); err != nil {
			return err
		}
		for i, g := range gs {
			if !old[i] {
				continue
			}
			loc, err := o.loc.Resolve(map[string]string{"key": g.key})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			rm, err := j.cfg.Objects.Delete(ctx, loc)
			j.countObjects(rm)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
			j.s.Report.Add(PrefixesRemoved, 1)
		}
		return nil
	})
	j.cfg.Logger.Info("objects done", slog.String("location", o.rule.Location), slog.Int64("prefixes_removed", removed))
	if len(errs) > 0 {
		j.s.Report.Add(PrefixesFailed, int64(len(errs)))
		errs = append([]error{fmt.Errorf("orphans: objects %s: %d prefix(es) not removed", o.rule.Location, len(errs))}, errs[0])
	}
	return errors.Join(append(errs, err)...)
}
