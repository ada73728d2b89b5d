package export

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/jobs"
)

// expireAll deletes, with every version, the archives of finished requests
// whose time is up, a batch per transaction: the archive goes first, then
// the row records it; a run killed in between deletes an empty location
// again, which is not an error.
func (j *RequestJob) expireAll(ctx context.Context, s *jobs.Session) error {
	for s.Continue(ctx) {
		var n int
		err := s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, t *jobs.Tally) error {
			rows, err := tx.Query(ctx, `SELECT id::text FROM lethe.exports
				WHERE expires_at <= now() AND expired_at IS NULL AND status IN ('done', 'gone')
				ORDER BY expires_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`, s.Limits.BatchSize)
			if err != nil {
				return fmt.Errorf("export: expired archives: %w", err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("export: expired archives: %w", err)
			}
			n = len(ids)
			for _, id := range ids {
				loc, err := j.archive.Resolve(map[string]string{"id": id})
				if err != nil {
					return err
				}
				removed, err := j.store.Delete(ctx, loc)
				if err != nil {
					return fmt.Errorf("export: delete an expired archive: %w", err)
				}
				t.Add(jobs.ObjectsRemoved, removed.Versions+removed.DeleteMarkers)
				t.Add(jobs.BytesRemoved, removed.Bytes)
				t.Add(ArchivesExpired, 1)
				j.cfg.Logger.Debug("archive expired", slog.String("export_id", id))
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
