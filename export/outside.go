package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/internal/pgerr"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	erasers "github.com/lethe-project/lethe/outside"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/processors"
)

// ObjectEntry describes one object copied into the archive under files/.
type ObjectEntry struct {
	// File is the entry's name in the archive.
	File string `json:"file"`
	// Location is the policy's location template it was found under.
	Location string `json:"location"`
	// Size is its size in bytes.
	Size int64 `json:"size"`
}

// ProcessorEntry describes one processor's answer in the archive.
type ProcessorEntry struct {
	// Name is the processor's name.
	Name string `json:"name"`
	// File is the entry's name in the archive: processors/NAME.json.
	File string `json:"file"`
	// Skipped says why the processor was not asked (a column its
	// export_url needs is NULL for the subject); File is then empty.
	Skipped string `json:"skipped,omitempty"`
}

// outside is what an export reads outside the database: the objects at the
// policy's by-subject locations, and the processors with an export_url.
type outside struct {
	store objstore.Store
	locs  []objstore.Location
	// byRows are the entries whose object keys are stored in rows.
	byRows []policy.ObjectRule
	procs  processors.Set
	// columns are the subject row's columns the templates use.
	columns []string
}

// newOutside builds the locations and the processors that have an
// export_url; a variable that is not set is a *jobs.ConfigError.
func newOutside(pol *policy.Policy, store objstore.Store, env func(string) (string, bool), client *http.Client) (*outside, error) {
	o := &outside{store: store}
	var errs []error
	seen := map[string]bool{}
	use := func(names []string) {
		for _, n := range names {
			if n != "key" && !seen[n] {
				seen[n] = true
				o.columns = append(o.columns, n)
			}
		}
	}
	for _, r := range pol.Objects {
		if r.ByRows() {
			if _, err := erasers.ResolveStoredKey(r, "x"); err != nil {
				errs = append(errs, err)
			}
			o.byRows = append(o.byRows, r)
			continue
		}
		loc, err := objstore.ParseLocation(r.Location)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.locs = append(o.locs, loc)
		use(loc.Placeholders())
	}
	var cfgs []processors.Config
	for _, p := range pol.Processors {
		if p.ExportURL != "" {
			cfgs = append(cfgs, p.Config)
		}
	}
	if len(cfgs) > 0 {
		set, err := processors.NewSet(cfgs, env, client)
		if err != nil {
			errs = append(errs, err)
		}
		for _, p := range set {
			use(p.ExportPlaceholders())
		}
		o.procs = set
	}
	if len(o.locs) > 0 && store == nil {
		errs = append(errs, errors.New("objects: no object store"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, &jobs.ConfigError{Err: fmt.Errorf("export: %w", err)}
	}
	return o, nil
}

// empty reports whether there is nothing outside the database to export.
func (o *outside) empty() bool { return len(o.locs) == 0 && len(o.byRows) == 0 && len(o.procs) == 0 }

// writeObjects copies every current object (no old version, no delete
// marker) at the subject's locations into files/, streamed. A location
// whose column is NULL for the subject names nothing.
func (o *outside) writeObjects(ctx context.Context, a *archive, values map[string]string, stored []objstore.Resolved) ([]ObjectEntry, error) {
	var out []ObjectEntry
	used := map[string]bool{}
	locs, err := o.resolve(values)
	if err != nil {
		return nil, err
	}
	for _, loc := range append(locs, stored...) {
		var keys []objstore.Object
		err = o.store.List(ctx, loc, func(ob objstore.Object) error {
			if ob.IsLatest && !ob.DeleteMarker {
				keys = append(keys, ob)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, ob := range keys {
			e, ok, err := o.copyObject(ctx, a, loc, ob, used)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// copyObject streams one object into the archive; ok is false when it was
// deleted since the listing.
func (o *outside) copyObject(ctx context.Context, a *archive, loc objstore.Resolved, ob objstore.Object, used map[string]bool) (ObjectEntry, bool, error) {
	opener, _ := o.store.(objstore.Opener)
	if opener == nil {
		return ObjectEntry{}, false, errors.New("export: the object store cannot read objects")
	}
	rc, err := opener.Open(ctx, loc, ob.Key)
	if errors.Is(err, objstore.ErrNotFound) {
		return ObjectEntry{}, false, nil
	}
	if err != nil {
		return ObjectEntry{}, false, err
	}
	defer rc.Close()
	name := objectName(loc, ob.Key, used)
	w, err := a.create(name)
	if err != nil {
		return ObjectEntry{}, false, err
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return ObjectEntry{}, false, fmt.Errorf("copy an object of %s: %w", loc.Template, err)
	}
	return ObjectEntry{File: name, Location: loc.Template, Size: n}, true, nil
}

// objectName names an object in the archive: files/BUCKET/KEY for S3,
// files/PATH for a file, each path segment made safe.
func objectName(loc objstore.Resolved, key string, used map[string]bool) string {
	segs := strings.Split(strings.TrimPrefix(key, "/"), "/")
	if loc.Bucket != "" {
		segs = append([]string{loc.Bucket}, segs...)
	}
	for i, s := range segs {
		segs[i] = safeName(s)
	}
	name := "files/" + strings.Join(segs, "/")
	base := name
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s.%d", base, i)
	}
	used[name] = true
	return name
}

// writeProcessors asks each processor with an export_url for its copy of
// the subject and writes the answer to processors/NAME.json. Any failure
// fails the export: an archive without a processor's copy is not complete.
func (o *outside) writeProcessors(ctx context.Context, a *archive, hash string, values map[string]string) ([]ProcessorEntry, error) {
	var out []ProcessorEntry
	for _, p := range o.procs {
		if !hasAll(p.ExportPlaceholders(), values) {
			out = append(out, ProcessorEntry{Name: p.Name(), Skipped: "a column its export_url needs is null"})
			continue
		}
		body, err := p.Export(ctx, processors.Subject{Hash: hash, Values: values})
		if err != nil {
			return nil, err
		}
		name := "processors/" + safeName(p.Name()) + ".json"
		w, err := a.create(name)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(body); err != nil {
			return nil, fmt.Errorf("write archive: %w", err)
		}
		out = append(out, ProcessorEntry{Name: p.Name(), File: name})
	}
	return out, nil
}

func hasAll(names []string, values map[string]string) bool {
	for _, n := range names {
		if _, ok := values[n]; !ok {
			return false
		}
	}
	return true
}

// subjectValues reads, in the snapshot, the subject row's columns that the
// templates use (a NULL is left out) and the key.
func (s *snapshot) subjectValues(ctx context.Context, sql string, columns []string) (map[string]string, error) {
	values := map[string]string{"key": s.key[0]}
	if len(columns) == 0 {
		return values, nil
	}
	var row []byte
	if err := s.tx.QueryRow(ctx, sql, s.key[0]).Scan(&row); err != nil {
		return nil, fmt.Errorf("read the subject row: %w", err)
	}
	cols := map[string]*string{}
	if err := json.Unmarshal(row, &cols); err != nil {
		return nil, fmt.Errorf("read the subject row: %w", err)
	}
	for _, c := range columns {
		if v := cols[c]; v != nil {
			values[c] = *v
		}
	}
	return values, nil
}

// valuesSQL returns the query that reads the subject row's columns as
// text ($1 the key as the row holds it), after checking that every column
// a template names exists.
func (o *outside) valuesSQL(pl *plan.Plan) (string, error) {
	t := pl.Subject.Table
	perr := &policy.Error{Path: pl.Policy.Path}
	for _, c := range o.columns {
		if _, ok := t.Columns[c]; !ok {
			perr.Add(0, "objects: or processors' export_url: {%s} is not a column of %s", c, t)
		}
	}
	if err := perr.Err(); err != nil {
		return "", err
	}
	k := pl.Subject.Key
	return fmt.Sprintf(`SELECT (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each_text(to_jsonb(t)) e)
		FROM %s t WHERE t.%s = $1::text::%s`, t.Ident(), k.Ident(), k.Type), nil
}

// Counters of a dry run: what the archive would hold besides rows.
const (
	// ObjectsToExport is how many files a dry run found.
	ObjectsToExport jobs.Counter = "objects_to_export"
	// ProcessorsToAsk is how many processors a dry run would ask.
	ProcessorsToAsk jobs.Counter = "processors_to_ask"
)

// count counts, for a dry run, the current objects and the processors
// that would be asked; it calls no processor.
func (o *outside) count(ctx context.Context, r *jobs.Report, values map[string]string, stored []objstore.Resolved) error {
	if o.empty() {
		return nil
	}
	var n int64
	locs, err := o.resolve(values)
	if err != nil {
		return err
	}
	for _, loc := range append(locs, stored...) {
		err = o.store.List(ctx, loc, func(ob objstore.Object) error {
			if ob.IsLatest && !ob.DeleteMarker {
				n++
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	var p int64
	for _, proc := range o.procs {
		if hasAll(proc.ExportPlaceholders(), values) {
			p++
		}
	}
	r.Set(ObjectsToExport, n)
	r.Set(ProcessorsToAsk, p)
	return nil
}

// resolve fills the by-subject location templates; a template whose
// column is NULL for the subject names nothing.
func (o *outside) resolve(values map[string]string) ([]objstore.Resolved, error) {
	var out []objstore.Resolved
	for _, l := range o.locs {
		if !hasAll(l.Placeholders(), values) {
			continue
		}
		loc, err := l.Resolve(values)
		if err != nil {
			return nil, err
		}
		out = append(out, loc)
	}
	return out, nil
}

// storedObjects reads, in the snapshot, the object keys that the by-rows
// entries' tables hold in the rows a delete step removes for the subject,
// and resolves them; a key that is not safe is an error naming the
// template.
func (s *snapshot) storedObjects(ctx context.Context, pl *plan.Plan, rules []policy.ObjectRule) ([]objstore.Resolved, error) {
	var out []objstore.Resolved
	seen := map[string]bool{}
	for _, r := range rules {
		t, ok := pl.Catalog.Lookup(r.Table)
		if !ok {
			return nil, fmt.Errorf("objects %s: no table %s", r.Location, r.Table)
		}
		for _, st := range pl.StepsOn(t) {
			if st.Action != policy.Delete && st.Action != policy.Cascade {
				continue
			}
			sql, err := st.ValuesSQL(pl.Subject.Key, r.Column.Column())
			if err != nil {
				return nil, fmt.Errorf("objects %s: %w", r.Location, err)
			}
			rows, err := s.tx.Query(ctx, sql, s.key, []string{""})
			if err != nil {
				return nil, fmt.Errorf("objects %s: read %s: %w", r.Location, r.Table, pgerr.Redact(err))
			}
			values, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
				var k, v string
				return v, row.Scan(&k, &v)
			})
			if err != nil {
				return nil, fmt.Errorf("objects %s: read %s: %w", r.Location, r.Table, pgerr.Redact(err))
			}
			for _, v := range values {
				loc, err := erasers.ResolveStoredKey(r, v)
				if err != nil {
					return nil, err
				}
				if id := loc.URL(); !seen[id] {
					seen[id] = true
					out = append(out, loc)
				}
			}
		}
	}
	return out, nil
}
