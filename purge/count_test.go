package purge_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/purge"
	"github.com/stretchr/testify/require"
)

// fewPendingSchema has 20,000 users, of whom 100 asked to be erased (60 of
// them past the grace period), and the index an application keeps for
// the purge.
const fewPendingSchema = `CREATE TABLE users (id bigint PRIMARY KEY, requested_at timestamptz, hold boolean NOT NULL DEFAULT false);
CREATE INDEX ON users (requested_at) WHERE requested_at IS NOT NULL;
INSERT INTO users SELECT i, CASE WHEN i % 200 = 0 AND i <= 12000 THEN now() - interval '40 days' WHEN i % 200 = 1 AND i <= 8000 THEN now() - interval '5 days' END
	FROM generate_series(1, 20000) i;
ANALYZE users;`

// TestFinalCountReadsOnlyPendingSubjects checks that the count a run makes
// after its batches (the subjects left and the gauges of pending
// requests) reads the pending requests, not every subject: a count of the
// whole subject table made each run's cost grow with the application's
// users rather than with the subjects it erased (at 640,000 users, a
// parallel sequential scan of the table at the end of every run).
func TestFinalCountReadsOnlyPendingSubjects(t *testing.T) {
	b := setup(t, fewPendingSchema, costPolicy)
	ctx := context.Background()
	q, err := purge.FinalCountSQL(ctx, b.db.Pool, b.pol)
	require.NoError(t, err)
	var out []byte
	require.NoError(t, b.db.Pool.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+q, "30 days").Scan(&out))
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	require.NoError(t, json.Unmarshal(out, &plans))
	require.LessOrEqual(t, plans[0].Plan.maxRows(), 200.0, "the final count read more than the 100 pending requests:\n%s", out)

	// The run reports what the count found: 40 requests still in their
	// grace period are pending, none is eligible.
	r, code := b.run(func(o *options) { o.AllowLarge = true })
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 60, r.Counter(jobs.SubjectsDone))
	require.EqualValues(t, 0, r.Counter(jobs.SubjectsLeft))
	require.EqualValues(t, 40, r.Gauges[string(jobs.PendingSubjects)])
	require.InDelta(t, 5*86400, r.Gauges[string(jobs.OldestRequestAgeSeconds)], 600)
	require.Zero(t, r.Gauges[string(jobs.OldestOverdueSeconds)])
}
