package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/fixtures"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// writePolicy writes the example policy edited by the replacements
// (old, new, old, new ...), each of which must apply.
func writePolicy(t *testing.T, env []string, edits ...string) string {
	t.Helper()
	var src string
	for _, e := range env {
		if p, ok := strings.CutPrefix(e, "LETHE_POLICY="); ok {
			src = readFile(t, p)
		}
	}
	for i := 0; i+1 < len(edits); i += 2 {
		require.Contains(t, src, edits[i])
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	p := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	return p
}

// TestCheckWarnsOfWhatThePolicyDoesNotClassify: the example policy without
// its activity_log rule (activity_log.user_id has no foreign key), with an
// ignore entry that matches nothing and an unindexed match column. Plain
// check warns and exits 0; --strict makes the first two problems.
func TestCheckWarnsOfWhatThePolicyDoesNotClassify(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 200)
	db.Exec(t, "DROP INDEX sessions_user_idx")
	pol := writePolicy(t, env,
		"  - table: activity_log\n    match: user_id\n    action: delete\n", "",
		"ignore:\n", "ignore:\n  - table: wishlist_items\n    column: product\n    reason: nothing to do\n")

	r := lethe(t, env, "check", "--policy", pol)
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stderr, "activity_log:\n    activity_log.user_id may refer to users.id with no foreign key: named like a reference to users;")
	require.Contains(t, r.Stderr, "(confidence 100%)")
	require.Contains(t, r.Stderr, "→ add to tables: - {table: activity_log, match: user_id, action: delete}")
	require.Contains(t, r.Stderr, "the ignore entry for wishlist_items.product matches nothing")
	require.Contains(t, r.Stderr, `→ CREATE INDEX CONCURRENTLY ON "public"."sessions" ("user_id");`)

	r = lethe(t, env, "check", "--strict", "--policy", pol)
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "2 problems\n  activity_log:")
	require.Contains(t, r.Stderr, "  wishlist_items:\n    line ")
	require.Regexp(t, `(?s)lethe: \d+ warnings\n.*sessions.user_id, which the delete step matches on, has no index`, r.Stderr) // the index stays a warning

	r = lethe(t, env, "check", "--format", "json", "--policy", pol)
	require.Equal(t, 0, r.Code)
	var rep checkReport
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &rep))
	require.True(t, rep.Valid)
	require.NotNil(t, rep.Plan)
	kinds := map[string]checkItem{}
	for _, w := range rep.Warnings {
		kinds[w.Kind] = w
	}
	require.Equal(t, "users.id", kinds["reference"].References)
	require.Equal(t, 1.0, *kinds["reference"].Confidence)
	require.Equal(t, "product", kinds["stale_ignore"].Column)
	require.Equal(t, "sessions", kinds["unindexed"].Table)
	require.Equal(t, "users", rep.Plan.Subject.Table)

	r = lethe(t, env, "check", "--strict", "--format", "json", "--policy", pol)
	require.Equal(t, 2, r.Code)
	var strict checkReport
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &strict))
	require.False(t, strict.Valid)
	require.Len(t, strict.Problems, 2)
	require.Nil(t, strict.Plan)

	// The sample's values never leave the server: no e-mail address, no key.
	var key string
	require.NoError(t, db.Pool.QueryRow(t.Context(), "SELECT id::text FROM users LIMIT 1").Scan(&key))
	for _, out := range []string{r.Stdout, r.Stderr} {
		require.NotContains(t, out, "@example")
		require.NotContains(t, out, key)
	}
}

func TestCheckFormatMustBeTextOrJSON(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 10)
	r := lethe(t, env, "check", "--format", "yaml")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, `--format "yaml": want text or json`)
}

// TestInitWritesADraftThatPassesCheck on the example schema and on OSM's,
// which nobody here wrote: every choice is a # review line, and lethe
// check --strict passes on the draft as written.
func TestInitWritesADraftThatPassesCheck(t *testing.T) {
	t.Parallel()
	osm := fixtures.OSMSchema(t, "")
	example, env := exampleDB(t, 100)
	for i, db := range []*pgtest.DB{example, pgtest.NewDB(t, osm)} {
		env := []string{"LETHE_DATABASE_URL=" + db.URL}
		out := filepath.Join(t.TempDir(), "draft.yaml")
		r := lethe(t, env, "init", "--out", out)
		require.Equal(t, 0, r.Code)
		draft := readFile(t, out)
		require.Contains(t, draft, "subject:\n  table: users\n  key: id\n")
		require.Contains(t, draft, "# review")
		if i == 1 {
			// OSM has no deletion-request column: a placeholder under
			// which nobody is eligible.
			require.Contains(t, draft, "# review: PLACEHOLDER")
			require.Contains(t, draft, "grace: 36500d")
		}
		r = lethe(t, env, "check", "--strict", "--policy", out)
		require.Equal(t, 0, r.Code, "the draft passes lethe check --strict as written")

		// A draft never overwrites a file.
		r = lethe(t, env, "init", "--out", out)
		require.Equal(t, 1, r.Code)
		require.Contains(t, r.Stderr, "file exists")
		require.Equal(t, draft, readFile(t, out))
	}
	// The example's activity_log.user_id has no foreign key: discovered.
	r := lethe(t, env[:1], "init")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "  - table: activity_log   # review: discovered, no foreign key: named like a reference to users; 100 of 100 sampled values")
	require.Contains(t, r.Stdout, "    basis: \"TODO: the legal basis")
	r = lethe(t, env[:1], "init", "--table", "nosuch")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "table nosuch does not exist")
}
