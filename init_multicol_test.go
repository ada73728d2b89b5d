package main

import (
	"path/filepath"
	"testing"

	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// TestInitMatchesMultiColumnKeysIntoTheSubject: a two-column foreign key
// into the subject table (from a partitioned table) gets a rule with
// match: [partition_id, user_id] in the draft, which passes lethe check
// --strict as written; before, the draft wrote via: users, which no rule
// covers.
func TestInitMatchesMultiColumnKeysIntoTheSubject(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, partition_id int NOT NULL, deleted_at timestamptz, UNIQUE (partition_id, id));
		CREATE TABLE events (partition_id int, id bigint, user_id bigint NOT NULL,
			PRIMARY KEY (partition_id, id), FOREIGN KEY (partition_id, user_id) REFERENCES users (partition_id, id)) PARTITION BY LIST (partition_id);
		CREATE TABLE events_1 PARTITION OF events FOR VALUES IN (1);
		CREATE INDEX ON events (user_id);
		INSERT INTO users VALUES (1, 1, NULL);
		INSERT INTO events VALUES (1, 10, 1);`)
	env := []string{"LETHE_DATABASE_URL=" + db.URL}
	out := filepath.Join(t.TempDir(), "draft.yaml")
	r := lethe(t, env, "init", "--out", out)
	require.Equal(t, 0, r.Code, r.Stderr)
	draft := readFile(t, out)
	require.Contains(t, draft, "  - table: events   # review: through events_partition_id_user_id_fkey (partition_id, user_id → users)")
	require.Contains(t, draft, "    match: [partition_id, user_id]\n    action: delete\n")
	r = lethe(t, env, "check", "--strict", "--policy", out)
	require.Equal(t, 0, r.Code, "the draft passes lethe check --strict as written: %s%s", r.Stdout, r.Stderr)
}
