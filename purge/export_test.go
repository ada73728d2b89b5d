package purge

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// SetHooks sets the test hooks of j; nil leaves a hook unset.
func SetHooks(j *Job, selecting func(), beforeCommit func(pid uint32), batchEnded func()) {
	j.hooks = hooks{selecting: selecting, beforeCommit: beforeCommit, batchEnded: batchEnded}
}

// SetTurning sets a hook that runs before each worker asks for its turn.
func SetTurning(j *Job, f func()) { j.hooks.turning = f }

// BatchSelectSQL returns the statement that selects a batch of subjects
// for pol on pool's database: $1 grace, $2 batch size, $3 failed keys.
func BatchSelectSQL(ctx context.Context, pool *pgxpool.Pool, pol *policy.Policy) (string, error) {
	pl, err := plan.Build(ctx, pool, pol)
	if err != nil {
		return "", err
	}
	return buildQueries(pl).selectBatch, nil
}

// SetInTx sets a hook that runs inside each batch's transaction, just
// before it commits.
func SetInTx(j *Job, f func(tx pgx.Tx)) { j.hooks.inTx = f }

// BatchStatements returns the statements j's batches send in their
// transactions (once Run built them).
func BatchStatements(j *Job, dry bool) []string { return j.batchStatements(dry) }

// CountSQL returns the statements of a run's counts for pol on pool's
// database: the requests ($1 grace), and the guard's total ($1 limit).
func CountSQL(ctx context.Context, pool *pgxpool.Pool, pol *policy.Policy) (requests, total string, err error) {
	pl, err := plan.Build(ctx, pool, pol)
	if err != nil {
		return "", "", err
	}
	q := buildQueries(pl)
	return q.stats, q.total, nil
}
