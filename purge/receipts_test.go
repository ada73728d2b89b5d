package purge_test

import (
	"context"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

// TestReceiptsOfOneBatchKeepEachSubjectsRows erases, in one batch,
// subjects with the same rows and subjects with rows of their own: a
// batch sends each distinct receipt document once, and every receipt must
// still list its own subject's counts, in the same order as ever.
func TestReceiptsOfOneBatchKeepEachSubjectsRows(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	same1 := b.addUser("same1", "45 days", false, "")
	same2 := b.addUser("same2", "46 days", false, "")
	more := b.addUser("more", "47 days", false, "")
	b.db.Exec(t, `INSERT INTO sessions (user_id, ip) SELECT $1, '192.0.2.9' FROM generate_series(1, 3)`, more)
	b.db.Exec(t, `INSERT INTO activity_log (user_id, action) VALUES ($1, 'export')`, more)
	fewer := b.addUser("fewer", "48 days", false, "")
	b.db.Exec(t, `DELETE FROM sessions WHERE user_id = $1`, fewer)
	for _, name := range []string{"active1", "active2", "active3", "active4", "active5"} {
		b.addUser(name, "", false, "")
	}

	r, code := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 4, r.Counter("subjects_done"))
	require.EqualValues(t, 1, r.Counter("batches"), "one batch for all four")

	base := []ledger.RowCount{{Table: `"UserProfiles"`, Action: "delete", Rows: 1}, {Table: "activity_log", Action: "delete", Rows: 2},
		{Table: "billing.invoices", Action: "keep", Rows: 1}, {Table: "consent_records", Action: "cascade", Rows: 1},
		{Table: "notes", Action: "anonymize", Rows: 1}, {Table: "sessions", Action: "delete", Rows: 2},
		{Table: "users", Action: "anonymize", Rows: 0}, {Table: "users", Action: "delete", Rows: 1},
		{Table: "wishlist_items", Action: "delete", Rows: 2}, {Table: "wishlists", Action: "delete", Rows: 1}}
	with := func(changes map[string]int64) []ledger.RowCount {
		var out []ledger.RowCount
		for _, rc := range base {
			if n, ok := changes[rc.Table+" "+rc.Action]; ok {
				rc.Rows = n
			}
			if rc.Rows > 0 {
				out = append(out, rc)
			}
		}
		return out
	}
	want := map[string][]ledger.RowCount{
		same1: with(nil),
		same2: with(nil),
		more:  with(map[string]int64{"sessions delete": 5, "activity_log delete": 3}),
		fewer: with(map[string]int64{"sessions delete": 0}),
	}
	h := subject.NewHasher(hashKey)
	for key, rows := range want {
		rs, err := ledger.ReceiptsFor(context.Background(), b.db.Pool, h.Hash(key))
		require.NoError(t, err)
		require.Len(t, rs, 1)
		require.Equal(t, rows, rs[0].Rows, "the receipt lists its own subject's rows")
		require.Empty(t, rs[0].Objects)
		require.Empty(t, rs[0].Processors)
		require.Equal(t, "passed", rs[0].Verification)
	}
}
