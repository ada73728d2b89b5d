package plan_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

const partitionedSchema = `
	CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
	CREATE TABLE projects (partition_id int, id bigint, owner_id bigint REFERENCES users, PRIMARY KEY (partition_id, id));
	CREATE TABLE builds (id bigint PRIMARY KEY, partition_id int, project_id bigint, runner_id bigint REFERENCES users,
		FOREIGN KEY (partition_id, project_id) REFERENCES projects ON DELETE CASCADE);`

// TestIgnoreCoversOnlyWhatItNames: an ignore entry with no column on a
// table with several references covers them all, and lethe check says
// which; columns: names a multi-column foreign key alone.
func TestIgnoreCoversOnlyWhatItNames(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, partitionedSchema)
	const head = `subject: {table: users, key: id, requested_at: gone, grace: 1d, final: delete}
tables:
  - {table: projects, match: owner_id, action: delete}
`
	pl, err := buildPolicy(t, db, head+`  - {table: builds, match: runner_id, action: anonymize, set: {runner_id: null}}
ignore:
  - {table: builds, reason: "go with their project"}
`)
	require.NoError(t, err)
	require.Len(t, pl.Warnings, 1)
	require.Contains(t, pl.Warnings[0], "ignore builds (line 6) has no column: it covers builds.partition_id, project_id references projects(partition_id, id)")

	pl, err = buildPolicy(t, db, head+`  - {table: builds, match: runner_id, action: anonymize, set: {runner_id: null}}
ignore:
  - {table: builds, columns: [partition_id, project_id], reason: "go with their project"}
`)
	require.NoError(t, err)
	require.Empty(t, pl.Warnings)
	var cascade bool
	for _, s := range pl.Steps {
		if s.String() == "builds cascade" {
			cascade = true
		}
	}
	require.True(t, cascade, "the rows that go through the two-column key are counted")

	_, err = buildPolicy(t, db, head+`ignore:
  - {table: builds, columns: [partition_id, project_id], reason: "go with their project"}
`)
	require.ErrorContains(t, err, "builds.runner_id references users(id) (builds_runner_id_fkey, ON DELETE NO ACTION): not covered")
}

// TestValuesSQLFollowsEveryColumn: a row reached through a multi-column
// via belongs to the subject of its own partition only.
func TestValuesSQLFollowsEveryColumn(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE projects (partition_id int, id bigint, owner_id bigint REFERENCES users, PRIMARY KEY (partition_id, id));
		CREATE TABLE uploads (id bigint PRIMARY KEY, partition_id int, project_id bigint, path text,
			FOREIGN KEY (partition_id, project_id) REFERENCES projects);
		INSERT INTO users VALUES (1, NULL), (2, NULL);
		INSERT INTO projects VALUES (1, 5, 1), (2, 5, 2);
		INSERT INTO uploads VALUES (100, 1, 5, 'a'), (101, 2, 5, 'b');`)
	pl, err := buildPolicy(t, db, `subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: uploads, match: project_id, via: projects, action: delete}
  - {table: projects, match: owner_id, action: delete}
`)
	require.NoError(t, err)
	q, err := pl.Steps[0].ValuesSQL(pl.Subject.Key, "path")
	require.NoError(t, err)
	rows, err := db.Pool.Query(context.Background(), q, []string{"1", "2"}, []string{"", ""})
	require.NoError(t, err)
	got := map[string]string{}
	for rows.Next() {
		var k, v string
		require.NoError(t, rows.Scan(&k, &v))
		got[v] += k
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, got)
}

// TestMatchListNamesAKey: a match: list must be the columns of a foreign
// key or declared reference; an uncovered two-column key into the subject
// names the rule to add; an anonymize rule on a cascading two-column key
// must move its rows off it.
func TestMatchListNamesAKey(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, partition_id int NOT NULL, gone timestamptz, UNIQUE (partition_id, id));
		CREATE TABLE events (id bigint PRIMARY KEY, partition_id int, user_id bigint, note text,
			FOREIGN KEY (partition_id, user_id) REFERENCES users (partition_id, id) ON DELETE CASCADE);
		CREATE TABLE logs (id bigint PRIMARY KEY, partition_id int, user_id bigint);`)
	const head = "subject: {table: users, key: id, requested_at: gone, grace: 1d}\n"
	_, err := buildPolicy(t, db, head)
	require.ErrorContains(t, err, "not covered; add a tables: rule for events match [partition_id, user_id], or an ignore: entry with columns: [partition_id, user_id]")

	_, err = buildPolicy(t, db, head+`tables:
  - {table: events, match: [partition_id, user_id], action: delete}
  - {table: logs, match: [partition_id, user_id], action: delete}
`)
	require.ErrorContains(t, err, "rule for logs: match [partition_id, user_id]: no foreign key or declared reference from logs (partition_id, user_id) into users")

	_, err = buildPolicy(t, db, head+`tables:
  - {table: events, match: [partition_id, user_id], action: anonymize, set: {note: null}}
`)
	require.ErrorContains(t, err, "rule for events (anonymize) must set user_id to null or to another users row's id")

	pl, err := buildPolicy(t, db, head+`references:
  - {table: logs, columns: [user_id, partition_id], to_columns: [id, partition_id]}
tables:
  - {table: events, match: [user_id, partition_id], action: anonymize, set: {partition_id: null}}
  - {table: logs, match: [partition_id, user_id], action: delete}
`)
	require.NoError(t, err)
	var b strings.Builder
	pl.Describe(&b)
	require.Contains(t, b.String(), "anonymize  events where user_id = the subject's id and partition_id = the subject's partition_id")
	require.Contains(t, b.String(), "delete     logs where user_id = the subject's id and partition_id = the subject's partition_id")
}
