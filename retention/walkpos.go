package retention

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-project/lethe/internal/pgerr"
)

// A block walk that stops before its end (time budget, SIGTERM, lock
// trouble) records where it stopped in lethe.retention_walks, keyed by
// the relation and its file, and the next run starts there rather than at
// block 0: a paced run that stops at its budget would otherwise read again,
// run after run, the blocks it already emptied, I/O the application pays
// for beside it. The next run walks from there to the end and then around
// from block 0 up to where it started, so that a run that ends its walk has
// seen every block with its own cutoff: rows that became expired since
// (a later cutoff), and rows an UPDATE moved behind the walk, are deleted
// all the same. A rewrite of the table (VACUUM FULL, CLUSTER) gives it a
// new file, and the walk starts again at block 0.
const (
	loadWalkSQL = `SELECT next_block FROM lethe.retention_walks
WHERE relid = $1::text::regclass::oid AND filenode = pg_relation_filenode($1::text::regclass)`
	saveWalkSQL = `INSERT INTO lethe.retention_walks (relid, filenode, next_block)
VALUES ($1::text::regclass::oid, pg_relation_filenode($1::text::regclass), $2)
ON CONFLICT (relid) DO UPDATE SET filenode = EXCLUDED.filenode, next_block = EXCLUDED.next_block, updated_at = now()`
	clearWalkSQL = `DELETE FROM lethe.retention_walks WHERE relid = $1::text::regclass::oid`
	// sweepWalksSQL forgets the positions of relations that no longer
	// exist: partitions this job (or the application) dropped.
	sweepWalksSQL = `DELETE FROM lethe.retention_walks w WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = w.relid)`
)

// walkStart is the block where the walk of rel (blocks long) starts: where
// the last run's walk stopped, or 0. A position that cannot be read is
// logged and the walk starts at 0: that costs I/O, never a row.
func (j *Job) walkStart(ctx context.Context, tr *tableRun, rel string, blocks int64) int64 {
	var next int64
	err := j.cfg.Pool.QueryRow(ctx, loadWalkSQL, rel).Scan(&next)
	switch {
	case err == pgx.ErrNoRows:
		return 0
	case err != nil:
		j.cfg.Logger.Warn("block walk position not read, walking from block 0", slog.String("table", tr.t.name()),
			slog.String("error", pgerr.Redact(err).Error()))
		return 0
	case next <= 0 || next >= blocks:
		return 0
	}
	return next
}

// saveWalk records that the walk of rel stopped at block next.
func (j *Job) saveWalk(ctx context.Context, tr *tableRun, rel string, next int64) {
	if _, err := j.cfg.Pool.Exec(context.WithoutCancel(ctx), saveWalkSQL, rel, next); err != nil {
		j.cfg.Logger.Warn("block walk position not saved: the next run walks from block 0", slog.String("table", tr.t.name()),
			slog.String("error", pgerr.Redact(err).Error()))
	}
}

// clearWalk forgets the position of a walk that went all around.
func (j *Job) clearWalk(ctx context.Context, tr *tableRun, rel string) {
	if _, err := j.cfg.Pool.Exec(ctx, clearWalkSQL, rel); err != nil {
		j.cfg.Logger.Warn("block walk position not cleared", slog.String("table", tr.t.name()),
			slog.String("error", pgerr.Redact(err).Error()))
	}
}

// sweepWalks forgets the walk positions of dropped relations, once per
// run: a dropped partition's position would otherwise stay for good (and,
// were its OID reused with the same file number, start an unrelated
// table's walk mid-way: harmless, since every walk goes around, but
// misleading). A failure is logged and the run goes on.
func (j *Job) sweepWalks(ctx context.Context) {
	if j.s.DryRun() {
		return
	}
	if _, err := j.cfg.Pool.Exec(ctx, sweepWalksSQL); err != nil {
		j.cfg.Logger.Warn("block walk positions of dropped tables not forgotten",
			slog.String("error", pgerr.Redact(err).Error()))
	}
}
