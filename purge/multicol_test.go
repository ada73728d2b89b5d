package purge_test

import (
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestMultiColumnCascadeIsCounted: builds go with their project through a
// (partition_id, project_id) foreign key; the receipt counts exactly the
// subject's, not those of another partition's project with the same id.
func TestMultiColumnCascadeIsCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE projects (partition_id int, id bigint, owner_id bigint REFERENCES users, PRIMARY KEY (partition_id, id));
		CREATE TABLE builds (id bigint PRIMARY KEY, partition_id int, project_id bigint,
			FOREIGN KEY (partition_id, project_id) REFERENCES projects ON DELETE CASCADE);
		INSERT INTO users VALUES (1, now() - interval '2 days'), (2, NULL);
		INSERT INTO projects VALUES (1, 5, 1), (2, 5, 2);
		INSERT INTO builds VALUES (100, 1, 5), (101, 1, 5), (102, 2, 5);`,
		`subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: projects, match: owner_id, action: delete}
ignore:
  - {table: builds, columns: [partition_id, project_id], reason: "builds go with their project"}
`)
	dry, code := b.run(dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(2), rowsOf(dry, "builds", "cascade"))
	_, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM builds"))
	rows := map[string]int64{}
	for _, rc := range receiptOf(t, b, "1").Rows {
		rows[rc.Table+" "+rc.Action] = rc.Rows
	}
	require.Equal(t, int64(2), rows["builds cascade"])
}

// TestMultiColumnViaFollowsEveryColumn: pipelines reach the subject
// through their project by a declared (partition_id, project_id)
// reference with no foreign key; the rule names one column, the reference
// brings the other, and only the subject's partition's rows go.
func TestMultiColumnViaFollowsEveryColumn(t *testing.T) {
	t.Parallel()
	b := setup(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE projects (partition_id int, id bigint, owner_id bigint REFERENCES users, PRIMARY KEY (partition_id, id));
		CREATE TABLE pipelines (id bigint PRIMARY KEY, partition_id int, project_id bigint);
		INSERT INTO users VALUES (1, now() - interval '2 days'), (2, NULL);
		INSERT INTO projects VALUES (1, 5, 1), (2, 5, 2);
		INSERT INTO pipelines VALUES (100, 1, 5), (101, 1, 5), (102, 2, 5);`,
		`subject: {table: users, key: id, requested_at: gone, grace: 1d}
references:
  - {table: pipelines, columns: [partition_id, project_id], to: projects}
tables:
  - {table: projects, match: owner_id, action: delete}
  - {table: pipelines, match: project_id, via: projects, action: delete}
`)
	dry, code := b.run(dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(2), rowsOf(dry, "pipelines", "delete"))
	_, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM pipelines WHERE partition_id = 2"))
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM pipelines WHERE partition_id = 1"))
}
