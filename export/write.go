package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-project/lethe/delivery"
	"github.com/lethe-project/lethe/jobs"
)

// writeBatchMax is the most requests one write transaction takes: a run
// killed mid-batch rewrites at most this many archives.
const writeBatchMax = 32

// pendingExport is a recorded request whose archive is to be written.
type pendingExport struct {
	id, key     string
	requestedAt time.Time
	// outcome
	m    *Manifest
	err  error
	gone bool
	// busy is set when an erasure holds the subject's row: the request
	// waits for the next run, and the purge erases it.
	busy bool
}

// writeAll writes the archive of every pending export, a batch per
// transaction that holds the batch's rows locked: the archives are
// published, then recorded as written in that transaction. A run killed
// in between writes the same archives again (same names) and records them.
func (j *RequestJob) writeAll(ctx context.Context, s *jobs.Session, pr *prepared) error {
	failed := delivery.NewFailures()
	busy := []string{}
	size := min(s.Limits.BatchSize, writeBatchMax)
	for s.Continue(ctx) {
		var batch []*pendingExport
		err := s.InTx(ctx, func(ctx context.Context, tx pgx.Tx, t *jobs.Tally) error {
			var err error
			if batch, err = j.lockPending(ctx, tx, append(busy[:len(busy):len(busy)], failed.IDs...), size); err != nil || len(batch) == 0 {
				return err
			}
			if err := j.lockSubjects(ctx, tx, batch); err != nil {
				return err
			}
			j.writeBatch(ctx, s, pr, batch)
			return j.recordWritten(ctx, tx, s, t, batch)
		})
		if err != nil {
			return err
		}
		for _, p := range batch {
			if p.busy {
				busy = append(busy, p.id)
				continue
			}
			failed.Add(p.id, p.err)
		}
		if len(batch) < size {
			break
		}
		if failed.Stop(j.cfg.MaxFailures) {
			s.Report.Set(WritingStopped, 1)
			break
		}
	}
	return failed.Err("export", "archive(s) not written")
}

// WritingStopped is 1 when a run stopped writing archives after
// RequestConfig.MaxFailures consecutive failures.
const WritingStopped jobs.Counter = "writing_stopped"

func (j *RequestJob) lockPending(ctx context.Context, tx pgx.Tx, failed []string, size int) ([]*pendingExport, error) {
	rows, err := tx.Query(ctx, `SELECT id::text, subject_key, requested_at FROM lethe.exports
		WHERE status = 'pending' AND id <> ALL($1::uuid[])
		ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`, failed, size)
	if err != nil {
		return nil, fmt.Errorf("export: next requests: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pendingExport, error) {
		p := &pendingExport{}
		return p, r.Scan(&p.id, &p.key, &p.requestedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("export: next requests: %w", err)
	}
	return batch, nil
}

// lockSubjects takes, in the batch's transaction, a KEY SHARE lock on the
// subject row of each request, so that no erasure removes a subject while
// its archive is written: the purge, which locks its subjects FOR UPDATE
// SKIP LOCKED, takes the subject in a later batch and then erases the
// archive. A subject an erasure holds (a purge batch, lethe erase) is not
// waited for, which could deadlock with the purge waiting for the
// request's row: the request is busy and stays pending for the next run.
// A subject not there any more is gone: no archive is written.
func (j *RequestJob) lockSubjects(ctx context.Context, tx pgx.Tx, batch []*pendingExport) error {
	keys := make([]string, len(batch))
	for i, p := range batch {
		keys[i] = p.key
	}
	set := func(sql string) (map[string]bool, error) {
		rows, err := tx.Query(ctx, sql, keys)
		if err != nil {
			return nil, fmt.Errorf("export: lock the subjects: %w", err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("export: lock the subjects: %w", err)
		}
		out := make(map[string]bool, len(got))
		for _, k := range got {
			out[k] = true
		}
		return out, nil
	}
	locked, err := set(j.sql.lockSubjects)
	if err != nil {
		return err
	}
	there, err := set(j.sql.subjects)
	if err != nil {
		return err
	}
	for _, p := range batch {
		switch {
		case locked[p.key]:
		case there[p.key]:
			p.busy = true
		default:
			p.gone = true
		}
	}
	return nil
}

// writeBatch writes the batch's archives, Workers at a time, each from its
// own snapshot; not those of subjects gone or busy.
func (j *RequestJob) writeBatch(ctx context.Context, s *jobs.Session, pr *prepared, batch []*pendingExport) {
	// A worker holds a connection only while it reads rows: the pool
	// bounds those, and more archives than connections are in flight
	// while the others upload.
	workers := j.cfg.Workers
	next := make(chan *pendingExport)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for p := range next {
				p.m, p.err = j.writeOne(ctx, s, pr, p)
				var serr *subjectError
				if errors.As(p.err, &serr) {
					p.gone, p.err = true, nil
				}
			}
		})
	}
	for _, p := range batch {
		if !p.gone && !p.busy {
			next <- p
		}
	}
	close(next)
	wg.Wait()
}

// writeOne writes one archive as TO/ID.zip.
func (j *RequestJob) writeOne(ctx context.Context, s *jobs.Session, pr *prepared, p *pendingExport) (*Manifest, error) {
	snap, err := j.exp.begin(ctx, pr.pl, p.key, s.Limits.LockTimeout)
	if err != nil {
		return nil, err
	}
	defer snap.close(ctx)
	return j.exp.exportOne(ctx, pr, snap, j.destination(p.id))
}

// destination is where the archive of export id goes.
func (j *RequestJob) destination(id string) Destination {
	if j.cfg.S3 != nil && strings.HasPrefix(j.sec.To, "s3://") {
		return Destination{Path: j.sec.To, S3: j.cfg.S3, Name: id + ".zip"}
	}
	return Destination{Path: strings.TrimPrefix(j.sec.To, "file://") + id + ".zip"}
}

// recordWritten records each outcome of a batch in its transaction.
func (j *RequestJob) recordWritten(ctx context.Context, tx pgx.Tx, s *jobs.Session, t *jobs.Tally, batch []*pendingExport) error {
	expire := time.Duration(j.sec.Expire)
	for _, p := range batch {
		var err error
		switch {
		case p.busy:
			continue
		case p.gone:
			// Nothing to export any more; the request is done.
			if _, err = tx.Exec(ctx, j.sql.done, p.key, p.requestedAt); err == nil {
				_, err = tx.Exec(ctx, `UPDATE lethe.exports SET status = 'gone', subject_key = NULL, done_at = now() WHERE id = $1`, p.id)
			}
			t.Add(SubjectsGone, 1)
		case p.err != nil:
			msg := redact(p.err.Error(), p.key)
			j.cfg.Logger.Warn("archive not written", slog.String("export_id", p.id), slog.String("error", msg))
			_, err = tx.Exec(ctx, `UPDATE lethe.exports SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, p.id, msg)
			t.Add(jobs.ExportFailures, 1)
		default:
			rows, _ := json.Marshal(rowsOfManifest(p.m))
			_, err = tx.Exec(ctx, `UPDATE lethe.exports SET status = 'written', subject_hash = $2, archive = $3, rows = $4,
				run_id = $5, written_at = now(), expires_at = now() + $6::interval, attempts = attempts + 1, last_error = NULL
				WHERE id = $1`, p.id, p.m.SubjectHash, j.sec.To+p.id+".zip", rows, nullID(s.RunID), expire)
			t.Add(jobs.ArchivesWritten, 1)
			j.cfg.Logger.Debug("archive written", slog.String("subject", p.m.SubjectHash), slog.String("export_id", p.id))
		}
		if err != nil {
			return fmt.Errorf("export: record the archive: %w", err)
		}
	}
	return nil
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// rowsOfManifest is the row count per table and category, for the audit.
func rowsOfManifest(m *Manifest) map[string]int64 {
	out := map[string]int64{}
	for _, e := range m.Tables {
		if e.Rows > 0 {
			out[jobs.RowKey(e.Table, e.Category)] += e.Rows
		}
	}
	return out
}
