package main

import (
	"encoding/json"
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

	// The JSON plan names both columns of the key, not only the first.
	r = lethe(t, env, "check", "--format", "json", "--policy", out)
	require.Equal(t, 0, r.Code, r.Stderr)
	var rep struct {
		Plan struct {
			Steps []struct {
				Table        string   `json:"table"`
				MatchColumns []string `json:"match_columns"`
				RefColumns   []string `json:"ref_columns"`
			} `json:"steps"`
		} `json:"plan"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &rep))
	var found bool
	for _, st := range rep.Plan.Steps {
		if st.Table == "events" {
			found = true
			require.Len(t, st.RefColumns, len(st.MatchColumns))
			pairs := map[string]string{}
			for i, c := range st.MatchColumns {
				pairs[c] = st.RefColumns[i]
			}
			require.Equal(t, map[string]string{"user_id": "id", "partition_id": "partition_id"}, pairs)
		}
	}
	require.True(t, found, "the plan has the events step: %s", r.Stdout)
}

// TestInitBreaksViaLoops: two tables that refer to each other with no
// foreign key (a merge request and its diffs, the request pointing back at
// its latest diff) made lethe init write two via rules that lethe check
// cannot order; the back-reference is now an ignore entry to review, and
// the draft passes as written.
func TestInitBreaksViaLoops(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, `
		CREATE TABLE users (id bigint PRIMARY KEY, deleted_at timestamptz);
		CREATE TABLE merge_requests (id bigint PRIMARY KEY, author_id bigint NOT NULL, latest_merge_request_diff_id bigint);
		CREATE TABLE merge_request_diffs (id bigint PRIMARY KEY, merge_request_id bigint NOT NULL);`)
	env := []string{"LETHE_DATABASE_URL=" + db.URL}
	out := filepath.Join(t.TempDir(), "draft.yaml")
	r := lethe(t, env, "init", "--out", out)
	require.Equal(t, 0, r.Code, r.Stderr)
	draft := readFile(t, out)
	require.Contains(t, draft, "  - table: merge_request_diffs")
	require.Contains(t, draft, "    column: latest_merge_request_diff_id\n    reason: \"points back at a merge_request_diffs row")
	r = lethe(t, env, "check", "--strict", "--policy", out)
	require.Equal(t, 0, r.Code, "the draft passes lethe check --strict as written: %s%s", r.Stdout, r.Stderr)
}
