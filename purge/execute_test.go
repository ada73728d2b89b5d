package purge_test

import (
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestExecutingDryRunFindsWhatCountingCannot: a CHECK constraint over two
// columns depends on each row, so lethe check cannot judge the set: value
// and the counting dry run passes; the executing dry run runs every
// statement of the batch, fails as the real run would, and rolls back.
func TestExecutingDryRunFindsWhatCountingCannot(t *testing.T) {
	t.Parallel()
	b := setup(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE shifts (id bigint PRIMARY KEY, user_id bigint REFERENCES users, starts int, ends int CHECK (ends > starts));
		INSERT INTO users VALUES (1, now() - interval '2 days');
		INSERT INTO shifts VALUES (10, 1, 5, 8);`,
		"subject: {table: users, key: id, requested_at: gone, grace: 1d}\ntables:\n"+
			`  - {table: shifts, match: user_id, action: keep, basis: "payroll", set: {user_id: null, ends: 0}}`+"\n")
	snap := b.appSnapshot()
	r, code := b.run(dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(1), rowsOf(r, "shifts", "keep"))

	_, code = b.run(dryRun, executeDryRun)
	require.Equal(t, jobs.ExitFailed, code, "the constraint fails the batch, as it would the real run")
	require.Equal(t, snap, b.appSnapshot(), "and nothing changed")
}

// TestExecutingDryRunCountsWhatTheRunDoes: its counts are the real run's,
// and it changes nothing.
func TestExecutingDryRunCountsWhatTheRunDoes(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	for _, u := range []string{"a", "b", "c"} {
		b.addUser(u, "45 days", false, "")
	}
	b.addUser("active", "", false, "")
	snap := b.appSnapshot()
	dry, code := b.run(dryRun, executeDryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, snap, b.appSnapshot())
	real, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, real.RowCounts(), dry.RowCounts())
}

func executeDryRun(o *options) { o.ExecuteDryRun = true }
