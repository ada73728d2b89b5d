package ledger

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// runLockClass is the first key of the session-level advisory lock that
// each running run holds, (runLockClass, run id), on a connection of its
// own: the lock goes when that connection dies, with the process or the
// server, so a run recorded as running whose lock is free is dead.
const runLockClass = 0x6c657468 // "leth"

// Run is a job run recorded in lethe.runs.
type Run struct {
	// ID is the run's id, for receipts.
	ID   int64
	pool *pgxpool.Pool
	// conn holds the run's advisory lock while the run lives.
	conn *pgx.Conn
}

// BeginRun migrates the lethe schema if needed, closes the runs that died
// without finishing (status abandoned), and records that job started, with
// the fingerprint of the subject hash key when the job has one (see
// [KeyFingerprint]). Call Finish when it ends.
func BeginRun(ctx context.Context, pool *pgxpool.Pool, job, keyFingerprint string) (*Run, error) {
	if err := Migrate(ctx, pool); err != nil {
		return nil, err
	}
	if _, err := CloseStaleRuns(ctx, pool); err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("record run: connect: %w", err)
	}
	var fp *string
	if keyFingerprint != "" {
		fp = &keyFingerprint
	}
	var id int64
	// The row becomes visible with its lock already held: no other run
	// can see it running and unlocked.
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "INSERT INTO lethe.runs (job, dry_run, key_fingerprint) VALUES ($1, false, $2) RETURNING id",
			job, fp).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_advisory_lock($1, ($2::bigint & 2147483647)::int)", runLockClass, id)
		return err
	})
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("record run: %w", err)
	}
	return &Run{ID: id, pool: pool, conn: conn}, nil
}

// Finish records how the run ended and its report, and releases the run's
// lock; deferred as defer run.Finish(ctx, &err, report), it turns a
// failure to record into the run's error when the run itself succeeded.
func (r *Run) Finish(ctx context.Context, runErr *error, report any) {
	ctx = context.WithoutCancel(ctx)
	defer func() { _ = r.conn.Close(ctx) }()
	status := "succeeded"
	if *runErr != nil {
		status = "failed"
	}
	if err := FinishRun(ctx, r.pool, r.ID, status, report); err != nil && *runErr == nil {
		*runErr = err
	}
}

// FinishRun records how a run ended and its report.
func FinishRun(ctx context.Context, pool *pgxpool.Pool, id int64, status string, report any) error {
	b, err := json.Marshal(report)
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, "UPDATE lethe.runs SET finished_at = now(), status = $2, report = $3 WHERE id = $1", id, status, b)
	if err != nil {
		return fmt.Errorf("record run end: %w", err)
	}
	return nil
}

// closeStaleSQL marks a run abandoned if it is still recorded as running
// and no session holds its lock: the transaction-level try-lock succeeds
// only then, and is released at commit. Pool connections never hold a
// run's lock.
const closeStaleSQL = `UPDATE lethe.runs SET status = 'abandoned', finished_at = now()
	WHERE id = $2 AND status = 'running' AND pg_try_advisory_xact_lock($1, ($2::bigint & 2147483647)::int)`

// CloseStaleRuns marks abandoned the runs that died running (a SIGKILL, a
// lost connection, a database crash) and returns how many.
func CloseStaleRuns(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	rows, err := pool.Query(ctx, "SELECT id FROM lethe.runs WHERE status = 'running' ORDER BY id")
	if err != nil {
		return 0, fmt.Errorf("close abandoned runs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("close abandoned runs: %w", err)
	}
	var n int64
	for _, id := range ids {
		// One transaction per run: its try-lock is released at once.
		tag, err := pool.Exec(ctx, closeStaleSQL, runLockClass, id)
		if err != nil {
			return n, fmt.Errorf("close abandoned runs: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
