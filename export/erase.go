package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
)

// Archives is the purge's eraser of export archives: for each subject it
// erases, every archive the export job wrote of that subject and has not
// expired yet goes, with every version, through the expiry's own
// deleteArchive. The purge then, in the batch's transaction, removes the
// subject's key from its lethe.exports rows and records the archives as
// expired (see purge's forgetExportsSQL), so that a request not served yet
// never gets an archive or a notice.
//
// Its rows are found by the key (requests not done) and by the keyed hash
// (requests done, which hold only the hash), and locked FOR UPDATE in the
// batch's transaction. A subject one of whose requests the export job
// holds (writing its archive, sending its notice) is kept for the next
// run rather than waited for; and the export job never writes an archive
// of a subject an erasure holds (see RequestJob.lockSubjects).
type Archives struct {
	// Previous are the hashers of earlier subject hash keys
	// (LETHE_SUBJECT_HASH_KEYS_PREVIOUS): a served request holds only the
	// hash the export job computed, under the key of its time.
	Previous []*subject.Hasher

	pool   *pgxpool.Pool
	store  objstore.Store
	logger *slog.Logger
}

var _ purge.Eraser = (*Archives)(nil)

// NewArchives returns the eraser of export archives; pool is for
// verification after the batch committed, store serves export.to (and
// wherever earlier archives were written).
func NewArchives(pool *pgxpool.Pool, store objstore.Store, logger *slog.Logger) (*Archives, error) {
	if pool == nil || store == nil {
		return nil, errors.New("export archives: a pool and an object store are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Archives{pool: pool, store: store, logger: logger}, nil
}

// Name implements [purge.Eraser].
func (a *Archives) Name() string { return "export archives" }

// Columns implements [purge.Eraser]: archives are named by their export's
// id, not by the subject's row.
func (a *Archives) Columns() []string { return nil }

// subjectExportsSQL selects the lethe.exports rows of subjects: $1 keys,
// $2 their keyed hashes (see Archives.hashes). It returns each row's id, its archive location,
// whether the archive is not expired yet, and the row's subject as its
// position in $1 (by key) and in $2 (by hash), from 1.
const subjectExportsSQL = `SELECT e.id::text, e.archive, e.expired_at IS NULL,
		array_position($1::text[], e.subject_key), array_position($2::text[], e.subject_hash)
	FROM lethe.exports e
	WHERE e.subject_key = ANY($1::text[]) OR e.subject_hash = ANY($2::text[])
	ORDER BY e.id`

// subjectExport is one row of subjectExportsSQL.
type subjectExport struct {
	id      string
	archive *string
	live    bool
	// subject is the index in the batch of the row's subject, or -1;
	// keyed is true when the row still holds the subject's key.
	subject int
	keyed   bool
}

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

func subjectExports(ctx context.Context, q querier, sql string, keys, hashes []string) ([]subjectExport, error) {
	rows, err := q.Query(ctx, sql, keys, hashes)
	if err != nil {
		return nil, fmt.Errorf("find archives: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (subjectExport, error) {
		var s subjectExport
		var byKey, byHash *int
		err := r.Scan(&s.id, &s.archive, &s.live, &byKey, &byHash)
		s.subject, s.keyed = -1, byKey != nil
		switch {
		case byKey != nil && *byKey <= len(keys):
			s.subject = *byKey - 1
		case byHash != nil && *byHash <= len(hashes):
			// hashes holds len(keys) hashes per hash key, in order.
			s.subject = (*byHash - 1) % len(keys)
		}
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("find archives: %w", err)
	}
	return list, nil
}

// Erase implements [purge.Eraser]: it deletes each subject's archives,
// with every version, and reports them; dry, it only counts them. A
// subject whose archive cannot be deleted (a bucket that fails, an object
// lock) keeps its rows and requests for the next run.
func (a *Archives) Erase(ctx context.Context, b *purge.Batch) []purge.Outcome {
	outs := make([]purge.Outcome, len(b.Subjects))
	fail := func(err error) []purge.Outcome {
		for i := range outs {
			outs[i].Err = err
		}
		return outs
	}
	if b.DryRun {
		// A dry run does not migrate lethe's schema: with no table there
		// is no archive.
		var exists bool
		if err := b.Tx.QueryRow(ctx, `SELECT to_regclass('lethe.exports') IS NOT NULL`).Scan(&exists); err != nil {
			return fail(fmt.Errorf("find archives: %w", err))
		}
		if !exists {
			return outs
		}
	}
	hashes := a.hashes(b.Subjects)
	found, err := subjectExports(ctx, b.Tx, subjectExportsSQL, b.Keys, hashes)
	if err != nil {
		return fail(err)
	}
	if !b.DryRun {
		busy, err := a.lock(ctx, b, hashes, found)
		if err != nil {
			return fail(err)
		}
		for i := range busy {
			outs[i].Err = errArchiveBusy
		}
	}
	for _, f := range found {
		if f.subject >= 0 && f.subject < len(outs) && outs[f.subject].Err != nil {
			continue
		}
		if f.archive == nil || !f.live || f.subject < 0 || f.subject >= len(outs) {
			continue
		}
		o := &outs[f.subject]
		if o.Objects == nil {
			o.Objects, o.Archives = map[string][2]int64{}, map[string]int64{}
		}
		loc, err := archiveLocation(*f.archive, f.id)
		if err == nil && !b.DryRun {
			_, removed, derr := deleteArchive(ctx, a.store, *f.archive, f.id)
			c := o.Objects[loc.Template]
			o.Objects[loc.Template] = [2]int64{c[0] + removed.Versions + removed.DeleteMarkers, c[1] + removed.Bytes}
			err = derr
		}
		if err != nil {
			o.Err = errors.Join(o.Err, err)
			continue
		}
		o.Archives[loc.Template]++
		o.Exports = append(o.Exports, f.id)
		a.logger.Debug("export archive erased", slog.String("subject", b.Subjects[f.subject].Hash),
			slog.String("export_id", f.id), slog.Bool("dry_run", b.DryRun))
		if _, ok := o.Objects[loc.Template]; !ok {
			o.Objects[loc.Template] = [2]int64{}
		}
	}
	return outs
}

// hashes are the subjects' keyed hashes under the current key, then under
// each previous key, len(subjects) per key.
func (a *Archives) hashes(subjects []purge.Subject) []string {
	out := make([]string, 0, len(subjects)*(1+len(a.Previous)))
	for _, s := range subjects {
		out = append(out, s.Hash)
	}
	for _, h := range a.Previous {
		for _, s := range subjects {
			out = append(out, h.Hash(s.Key))
		}
	}
	return out
}

// errArchiveBusy keeps a subject for the next run while the export job
// holds one of its requests.
var errArchiveBusy = errors.New("the export job is writing or sending an archive of the subject; the next run erases it")

// lock locks the subjects' rows of lethe.exports in the batch's
// transaction, skipping those the export job holds (it holds them while
// it writes their archives or sends their notices): the purge never waits
// for the export job, and the subjects of rows it holds are returned, to
// be erased by the next run, archive and all.
func (a *Archives) lock(ctx context.Context, b *purge.Batch, hashes []string, found []subjectExport) (map[int]bool, error) {
	locked, err := subjectExports(ctx, b.Tx, subjectExportsSQL+" FOR UPDATE OF e SKIP LOCKED", b.Keys, hashes)
	if err != nil {
		return nil, err
	}
	got := make(map[string]bool, len(locked))
	for _, l := range locked {
		got[l.id] = true
	}
	busy := map[int]bool{}
	for _, f := range found {
		if !got[f.id] && f.subject >= 0 {
			busy[f.subject] = true
		}
	}
	return busy, nil
}

// Verify implements [purge.Eraser]: after the batch committed, no row of
// lethe.exports may hold a subject's key, and nothing may remain, in any
// version, where an archive of the subject was written.
func (a *Archives) Verify(ctx context.Context, subjects []purge.Subject) []error {
	errs := make([]error, len(subjects))
	keys := make([]string, len(subjects))
	for i, s := range subjects {
		keys[i] = s.Key
	}
	found, err := subjectExports(ctx, a.pool, subjectExportsSQL, keys, a.hashes(subjects))
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	left := make([]map[string]bool, len(subjects))
	keyed := make([]int, len(subjects))
	for _, f := range found {
		if f.subject < 0 {
			continue
		}
		i := f.subject
		if f.keyed {
			keyed[i]++
		}
		if f.archive == nil {
			continue
		}
		loc, err := archiveLocation(*f.archive, f.id)
		var there bool
		if err == nil {
			there, err = objstore.Exists(ctx, a.store, loc)
		}
		if err != nil {
			errs[i] = errors.Join(errs[i], err)
		} else if there {
			if left[i] == nil {
				left[i] = map[string]bool{}
			}
			left[i][loc.Template] = true
		}
	}
	for i := range subjects {
		if keyed[i] > 0 {
			errs[i] = errors.Join(errs[i], fmt.Errorf("%d access request(s) in lethe.exports still hold the subject's key", keyed[i]))
		}
		if len(left[i]) > 0 {
			names := make([]string, 0, len(left[i]))
			for t := range left[i] {
				names = append(names, t)
			}
			sort.Strings(names)
			errs[i] = errors.Join(errs[i], fmt.Errorf("export archives remain at %s", strings.Join(names, ", ")))
		}
	}
	return errs
}
