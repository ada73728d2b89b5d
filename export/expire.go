package export

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
)

// archiveLocation is where the archive of export id is: its recorded
// location (lethe.exports.archive, "TO" + id + ".zip") as the template
// "TO{id}.zip" resolved with the id, so that it is deleted with every
// version as objstore deletes a subject's files, and named in receipts and
// errors by its template. An archive written before export.to changed is
// found where it was written.
func archiveLocation(archive, id string) (objstore.Resolved, error) {
	to, ok := strings.CutSuffix(archive, id+".zip")
	if !ok {
		return objstore.Resolved{}, fmt.Errorf("export: the archive location of export %s does not end in its id", id)
	}
	loc, err := objstore.ParseLocation(to + "{id}.zip")
	if err != nil {
		return objstore.Resolved{}, fmt.Errorf("export: archive location: %w", err)
	}
	return loc.Resolve(map[string]string{"id": id})
}

// deleteArchive deletes the archive of export id at its recorded location
// with every version. An archive already gone is not an error: a run
// killed after deleting and before recording it deletes it again. The
// expiry and the purge's erasure both delete archives through it.
func deleteArchive(ctx context.Context, store objstore.Store, archive, id string) (objstore.Resolved, objstore.Removed, error) {
	loc, err := archiveLocation(archive, id)
	if err != nil {
		return loc, objstore.Removed{}, err
	}
	removed, err := store.Delete(ctx, loc)
	if err != nil {
		return loc, removed, fmt.Errorf("export: delete the archive of export %s: %w", id, err)
	}
	return loc, removed, nil
}

// expireAll deletes, with every version, the archives of finished requests
// whose time is up, a batch per transaction: the archive goes first, then
// the row records it; a run killed in between deletes an empty location
// again, which is not an error.
func (j *RequestJob) expireAll(ctx context.Context, s *jobs.Session) error {
	for s.Continue(ctx) {
		var n int
		err := s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, t *jobs.Tally) error {
			rows, err := tx.Query(ctx, `SELECT id::text, archive FROM lethe.exports
				WHERE expires_at <= now() AND expired_at IS NULL AND status IN ('done', 'gone') AND archive IS NOT NULL
				ORDER BY expires_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`, s.Limits.BatchSize)
			if err != nil {
				return fmt.Errorf("export: expired archives: %w", err)
			}
			type expired struct{ id, archive string }
			list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (expired, error) {
				var e expired
				return e, r.Scan(&e.id, &e.archive)
			})
			if err != nil {
				return fmt.Errorf("export: expired archives: %w", err)
			}
			n = len(list)
			ids := make([]string, 0, n)
			for _, e := range list {
				_, removed, err := deleteArchive(ctx, j.store, e.archive, e.id)
				if err != nil {
					return fmt.Errorf("%w (expired)", err)
				}
				t.Add(jobs.ObjectsRemoved, removed.Versions+removed.DeleteMarkers)
				t.Add(jobs.BytesRemoved, removed.Bytes)
				t.Add(ArchivesExpired, 1)
				j.cfg.Logger.Debug("archive expired", slog.String("export_id", e.id))
				ids = append(ids, e.id)
			}
			if _, err := tx.Exec(ctx, `UPDATE lethe.exports SET expired_at = now() WHERE id = ANY($1::uuid[])`, ids); err != nil {
				return fmt.Errorf("export: record expired archives: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n < s.Limits.BatchSize {
			return nil
		}
	}
	return nil
}
