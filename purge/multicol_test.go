package purge_test

import (
	"strings"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/purge"
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

// partitionedSubjectSchema: events is partitioned by partition_id with a
// (partition_id, id) key, and refers to its user by (partition_id,
// user_id), a two-column foreign key into users; audit refers to users
// the same way with no foreign key at all.
const partitionedSubjectSchema = `
	CREATE TABLE users (id bigint PRIMARY KEY, partition_id int NOT NULL, gone timestamptz, UNIQUE (partition_id, id));
	CREATE TABLE events (partition_id int, id bigint, user_id bigint, what text,
		PRIMARY KEY (partition_id, id), FOREIGN KEY (partition_id, user_id) REFERENCES users (partition_id, id)) PARTITION BY LIST (partition_id);
	CREATE TABLE events_1 PARTITION OF events FOR VALUES IN (1);
	CREATE TABLE events_2 PARTITION OF events FOR VALUES IN (2);
	CREATE TABLE comments (id bigint PRIMARY KEY, partition_id int, user_id bigint, body text,
		FOREIGN KEY (partition_id, user_id) REFERENCES users (partition_id, id) ON DELETE CASCADE);
	CREATE TABLE audit (id bigserial PRIMARY KEY, partition_id int, user_id bigint, action text);
	INSERT INTO users VALUES (1, 1, now() - interval '2 days'), (2, 2, NULL);
	INSERT INTO events VALUES (1, 100, 1, 'a'), (1, 101, 1, 'b'), (2, 100, 2, 'c');
	INSERT INTO comments VALUES (10, 1, 1, 'x'), (11, 2, 2, 'y');
	INSERT INTO audit (partition_id, user_id, action) VALUES (1, 1, 'login'), (2, 1, 'another partition''s user 1'), (2, 2, 'login');`

const partitionedSubjectPolicy = `subject: {table: users, key: id, requested_at: gone, grace: 1d}
references:
  - {table: audit, columns: [partition_id, user_id], to_columns: [partition_id, id]}
tables:
  - {table: events, match: [partition_id, user_id], action: delete}
  - {table: comments, match: [partition_id, user_id], action: anonymize, set: {user_id: null, body: "[erased]"}}
  - {table: audit, match: [partition_id, user_id], action: delete}
`

// TestMultiColumnMatchIntoTheSubject: rules with match: [partition_id,
// user_id] follow a two-column foreign key (into a partitioned table) and
// a declared two-column reference into the subject table: exactly the
// subject's rows go or are anonymized, the dry run and the receipt count
// them, and verification searches the declared reference.
func TestMultiColumnMatchIntoTheSubject(t *testing.T) {
	t.Parallel()
	b := setup(t, partitionedSubjectSchema, partitionedSubjectPolicy)
	dry, code := b.run(dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(2), rowsOf(dry, "events", "delete"))
	require.Equal(t, int64(1), rowsOf(dry, "comments", "anonymize"))
	require.Equal(t, int64(1), rowsOf(dry, "audit", "delete"))

	_, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Zero(t, b.db.Int(t, "SELECT count(*) FROM users WHERE id = 1"))
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM events"))
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM comments WHERE id = 10 AND user_id IS NULL AND body = '[erased]'"))
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM comments WHERE id = 11 AND user_id = 2"))
	require.Equal(t, 2, b.db.Int(t, "SELECT count(*) FROM audit WHERE partition_id = 2"), "another partition's user 1 stays")
	r := receiptOf(t, b, "1")
	require.Equal(t, "passed", r.Verification)
	rows := map[string]int64{}
	for _, rc := range r.Rows {
		rows[rc.Table+" "+rc.Action] = rc.Rows
	}
	require.Equal(t, int64(2), rows["events delete"])
	require.Equal(t, int64(1), rows["comments anonymize"])
	require.Equal(t, int64(1), rows["audit delete"])
	require.Contains(t, r.Searched, "audit.(partition_id, user_id) (the subject's partition_id, id)")
}

// TestMultiColumnDeclaredReferenceIsVerified: a row written for the
// subject through a declared two-column reference while the batch runs
// (no foreign key stops it) fails verification.
func TestMultiColumnDeclaredReferenceIsVerified(t *testing.T) {
	t.Parallel()
	b := setup(t, partitionedSubjectSchema, partitionedSubjectPolicy)
	cfg := b.config()
	j, err := purge.New(cfg.Config)
	require.NoError(t, err)
	purge.SetHooks(j, nil, func(uint32) {
		b.db.Exec(t, "INSERT INTO audit (partition_id, user_id, action) VALUES (1, 1, 'written meanwhile'), (2, 1, 'not the subject')")
	}, nil)
	_, code := runJob(t, cfg, j)
	require.Equal(t, jobs.ExitFailed, code)
	v := receiptOf(t, b, "1").Verification
	require.True(t, strings.HasPrefix(v, "failed: audit still has 1 row"), v)
}

// TestMultiColumnMatchViaPartitionedTable: job artifacts follow their build
// through a (partition_id, build_id) key into a table partitioned by
// partition_id with a (partition_id, id) key that the policy deletes; the
// rule names both columns, runs before the builds go, and takes only the
// subject's partition's artifacts.
func TestMultiColumnMatchViaPartitionedTable(t *testing.T) {
	t.Parallel()
	b := setup(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, gone timestamptz);
		CREATE TABLE builds (partition_id int, id bigint, user_id bigint REFERENCES users, PRIMARY KEY (partition_id, id)) PARTITION BY LIST (partition_id);
		CREATE TABLE builds_1 PARTITION OF builds FOR VALUES IN (1);
		CREATE TABLE builds_2 PARTITION OF builds FOR VALUES IN (2);
		CREATE TABLE artifacts (id bigint PRIMARY KEY, partition_id int, build_id bigint,
			FOREIGN KEY (partition_id, build_id) REFERENCES builds);
		INSERT INTO users VALUES (1, now() - interval '2 days'), (2, NULL);
		INSERT INTO builds VALUES (1, 5, 1), (2, 5, 2);
		INSERT INTO artifacts VALUES (100, 1, 5), (101, 1, 5), (102, 2, 5);`,
		`subject: {table: users, key: id, requested_at: gone, grace: 1d}
tables:
  - {table: builds, match: user_id, action: delete}
  - {table: artifacts, match: [partition_id, build_id], via: builds, action: delete}
`)
	dry, code := b.run(dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(2), rowsOf(dry, "artifacts", "delete"))
	_, code = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, []int{102}, []int{b.db.Int(t, "SELECT min(id) FROM artifacts")})
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM artifacts"))
	rows := map[string]int64{}
	for _, rc := range receiptOf(t, b, "1").Rows {
		rows[rc.Table+" "+rc.Action] = rc.Rows
	}
	require.Equal(t, int64(2), rows["artifacts delete"])
	require.Equal(t, int64(1), rows["builds delete"])
}
