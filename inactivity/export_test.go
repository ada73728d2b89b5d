package inactivity

import (
	"context"

	"github.com/lethe-project/lethe/jobs"
)

// SetBeforeCommit sets the hook that runs just before a batch commits.
func SetBeforeCommit(j *Job, f func(pid uint32, batch *jobs.Tally)) { j.beforeCommit = f }

// CountSQL returns the statements of j's counts on its database: the
// counts before the ledger exists ($1 after, $2 warn) and the guard's
// total ($1 limit).
func CountSQL(ctx context.Context, j *Job) (stats, total string, err error) {
	cols, err := j.check(ctx, true)
	if err != nil {
		return "", "", err
	}
	q := buildQueries(cols)
	return q.statsNoLedger, q.total, nil
}
