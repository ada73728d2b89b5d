package retention_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/retention"
	"github.com/stretchr/testify/require"
)

const shardSchema = `
CREATE TABLE t0 (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE t1 (LIKE t0 INCLUDING ALL);
CREATE TABLE t2 (LIKE t0 INCLUDING ALL);
CREATE TABLE t3 (LIKE t0 INCLUDING ALL);
CREATE TABLE logs (region text NOT NULL, id int NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE logs_r0 PARTITION OF logs FOR VALUES IN ('r0');
CREATE TABLE logs_r1 PARTITION OF logs FOR VALUES IN ('r1');
CREATE TABLE logs_r2 PARTITION OF logs FOR VALUES IN ('r2');
CREATE TABLE logs_r3 PARTITION OF logs FOR VALUES IN ('r3');
CREATE TABLE logs_r4 PARTITION OF logs FOR VALUES IN ('r4');
CREATE TABLE logs_r5 PARTITION OF logs FOR VALUES IN ('r5');
`

const shardRules = `  - {table: t0, column: at, keep: 10d}
  - {table: t1, column: at, keep: 10d}
  - {table: t2, column: at, keep: 10d}
  - {table: t3, column: at, keep: 10d}
  - {table: logs, column: at, keep: 10d}
`

var shardTables = []string{"t0", "t1", "t2", "t3", "logs_r0", "logs_r1", "logs_r2", "logs_r3", "logs_r4", "logs_r5"}

func fillShards(t *testing.T, b *testBundle) {
	t.Helper()
	for _, tb := range []string{"t0", "t1", "t2", "t3"} {
		b.db.Exec(t, fmt.Sprintf("INSERT INTO %s SELECT g, CASE WHEN g %% 2 = 0 THEN '2025-01-01+00' ELSE '2025-06-14+00' END::timestamptz FROM generate_series(1, 20) g", tb))
	}
	b.db.Exec(t, "INSERT INTO logs SELECT 'r' || (g % 6), g, CASE WHEN g % 4 = 0 THEN '2025-06-14+00' ELSE '2025-01-01+00' END::timestamptz FROM generate_series(1, 120) g")
}

func oldRows(t *testing.T, b *testBundle, table string) int {
	return b.db.Int(t, fmt.Sprintf("SELECT count(*) FROM %s WHERE at < '2025-06-05 12:00+00'", table))
}

// TestShardsSplitTablesAndPartitions runs retention as shard 0/2, then
// as 1/2: the first takes every other rule (in policy order) and the
// leaves of the partitioned table that hash to it, the second the rest;
// then both at once on a copy: neither skips a table.
func TestShardsSplitTablesAndPartitions(t *testing.T) {
	t.Parallel()
	b := setup(t, shardSchema, shardRules)
	b.cfg.AsOf = asOf
	fillShards(t, b)
	copyDB := b.db.Clone(t)
	shard := func(i int) jobs.Limits {
		l := b.limits
		l.Shard = jobs.Shard{Index: i, Count: 2}
		return l
	}
	owned := func(sh jobs.Shard, table string) bool {
		switch table {
		case "t0", "t2":
			return sh.Index == 0
		case "t1", "t3":
			return sh.Index == 1
		}
		return sh.Owns("public." + table)
	}
	_, err := runJob(t, b.cfg, shard(0))
	require.NoError(t, err)
	var mine, theirs int
	for _, tb := range shardTables {
		if owned(jobs.Shard{Index: 0, Count: 2}, tb) {
			mine++
			require.Zero(t, oldRows(t, b, tb), "%s is shard 0's", tb)
		} else {
			theirs++
			require.NotZero(t, oldRows(t, b, tb), "%s is shard 1's", tb)
		}
	}
	require.Greater(t, mine, 2, "shard 0 has leaves of logs")
	require.Greater(t, theirs, 2, "shard 1 has leaves of logs")
	_, err = runJob(t, b.cfg, shard(1))
	require.NoError(t, err)
	for _, tb := range shardTables {
		require.Zero(t, oldRows(t, b, tb), tb)
	}
	require.Equal(t, 70, b.db.Int(t, "SELECT (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1) + (SELECT count(*) FROM t2) + (SELECT count(*) FROM t3) + (SELECT count(*) FROM logs)"),
		"the new rows stay: 4 x 10 + 30")

	// Both at once: disjoint work, no table skipped as busy.
	both := &testBundle{db: copyDB, cfg: config(t, copyDB.Pool, shardRules), limits: b.limits}
	both.cfg.AsOf = asOf
	var wg sync.WaitGroup
	reports := make([]*jobs.Report, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := retention.New(both.cfg)
			if err != nil {
				errs[i] = err
				return
			}
			reports[i], errs[i] = jobtest.Run(t, both.db.Pool, j, shard(i))
		}()
	}
	wg.Wait()
	for i := range 2 {
		require.NoError(t, errs[i])
		require.Zero(t, reports[i].Counter(retention.TablesSkipped))
	}
	for _, tb := range shardTables {
		require.Zero(t, oldRows(t, both, tb), tb)
	}
}
