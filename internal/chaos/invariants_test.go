package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/ledger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expectedRows is what a receipt must list for a subject that held h:
// "table action" → rows.
func expectedRows(h holding) map[string]int64 {
	out := map[string]int64{}
	add := func(k string, n int) {
		if n > 0 {
			out[k] += int64(n)
		}
	}
	add("sessions delete", h.Sessions)
	add("notes anonymize", h.Notes)
	add(`"UserProfiles" delete`, h.Profiles)
	add("billing.invoices keep", h.Invoices)
	add("wishlist_items delete", h.Items)
	add("wishlists delete", h.Wishlists)
	add("activity_log delete", h.Activity)
	add("consent_records cascade", h.Consents)
	add("memberships delete", h.Members)
	add("users delete", h.User)
	return out
}

func rowMap(rc []ledger.RowCount) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rc {
		if r.Rows != 0 {
			out[r.Table+" "+r.Action] += r.Rows
		}
	}
	return out
}

// checkPurge checks the purge's invariants on w. restored are subjects the
// application restored (true: before the purge locked them, so they must
// be intact; false: too late, they must be erased). After a rerun (final),
// every eligible subject is erased, and no run is left running nor any
// receipt pending.
func (w *world) checkPurge(stage string, final bool, restored map[string]bool) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	now := w.holdings()
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	receiptsByRun := map[int64][]ledger.Receipt{}
	erasedN := 0
	hashes := map[string]int{}
	rows, err := w.db.Pool.Query(ctx, `SELECT subject_hash FROM lethe.receipts`)
	require.NoError(t, err)
	for rows.Next() {
		var h string
		require.NoError(t, rows.Scan(&h))
		hashes[h]++
	}
	require.NoError(t, rows.Err())
	for _, k := range w.keys {
		h, first := now[k], w.initial[k]
		// Each insert of the application that committed added a session
		// and a wishlist.
		first.Sessions += w.inserted[k]
		first.Wishlists += w.inserted[k]
		var rs []ledger.Receipt
		if n := hashes[w.hasher.Hash(k)]; n > 0 {
			rs, err = ledger.ReceiptsFor(ctx, w.db.Pool, w.hasher.Hash(k))
			require.NoError(t, err)
			require.Len(t, rs, n)
		}
		mayGo := w.eligible[k]
		if r, ok := restored[k]; ok && r {
			mayGo = false
		}
		switch {
		case erased(h) && mayGo:
			erasedN++
			if len(rs) != 1 {
				bad("subject %s erased with %d receipts, want exactly 1", w.hasher.Hash(k), len(rs))
				continue
			}
			got, want := rowMap(rs[0].Rows), expectedRows(first)
			// The invitees this subject still had when it went: those
			// erased before it were no longer there to anonymize.
			if got["users anonymize"] > int64(first.Invited) {
				bad("subject %s: receipt says %d invitees anonymized, it had %d", w.hasher.Hash(k), got["users anonymize"], first.Invited)
			}
			delete(got, "users anonymize")
			// Retention may have removed the old activity rows first.
			if a := got["activity_log delete"]; a >= int64(first.Activity) && a <= int64(first.Activity+first.OldActivity) {
				got["activity_log delete"] = int64(first.Activity)
				if a == 0 {
					delete(got, "activity_log delete")
				}
			}
			if !equalCounts(got, want) {
				bad("subject %s: receipt rows %v, but it held %v", w.hasher.Hash(k), got, want)
			}
			if final && (rs[0].Verification != "passed") {
				bad("subject %s: receipt verification %q after a rerun, want passed", w.hasher.Hash(k), rs[0].Verification)
			}
			receiptsByRun[rs[0].RunID] = append(receiptsByRun[rs[0].RunID], rs[0])
		case erased(h):
			bad("subject %s erased but must not be (eligible %v, restored %v)", w.hasher.Hash(k), w.eligible[k], restored[k])
		case intactRows(h, first):
			if len(rs) != 0 {
				bad("subject %s intact but has %d receipt(s)", w.hasher.Hash(k), len(rs))
			}
			if !mayGo && h.Objects != first.Objects {
				bad("subject %s not due, yet its objects went from %d to %d", w.hasher.Hash(k), first.Objects, h.Objects)
			}
			if final && mayGo {
				bad("subject %s still intact after a rerun", w.hasher.Hash(k))
			}
			if r, ok := restored[k]; ok && !r && final {
				bad("subject %s: the application's restore found no row, yet the subject is intact", w.hasher.Hash(k))
			}
		default:
			bad("subject %s half erased: holds %+v, held %+v", w.hasher.Hash(k), h, first)
		}
	}
	dup := w.db.Int(t, `SELECT count(*) FROM (SELECT subject_hash FROM lethe.receipts GROUP BY 1 HAVING count(*) > 1) d`)
	if dup > 0 {
		bad("%d subject(s) have more than one receipt", dup)
	}
	if total := w.db.Int(t, `SELECT count(*) FROM lethe.receipts`); total != erasedN {
		bad("%d receipts for %d erased subjects", total, erasedN)
	}
	for _, p := range w.checkReports(receiptsByRun) {
		if !w.seen[p] { // a finished run's report does not change: say it once
			w.seen[p] = true
			problems = append(problems, p)
		}
	}
	if final {
		if n := w.db.Int(t, `SELECT count(*) FROM lethe.runs WHERE status = 'running'`); n > 0 {
			bad("%d run(s) still 'running' after a rerun", n)
		}
	}
	assert.Empty(t, problems, "%s: invariants broken (seed %d)", stage, seed)
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// runReport is what lethe.runs.report holds.
type runReport struct {
	Rows     map[string]int64 `json:"rows"`
	Counters map[string]int64 `json:"counters"`
}

// checkReports compares the report of every finished purge run with the
// receipts it committed: subjects done and rows per table and action.
func (w *world) checkReports(byRun map[int64][]ledger.Receipt) []string {
	t := w.t
	// Only the reports a run wrote itself when it ended (a jobs.Report
	// has "started"): a run closed later as abandoned cannot know what it
	// did.
	rows, err := w.db.Pool.Query(context.Background(), `SELECT id, status, report::text FROM lethe.runs
		WHERE job IN ('purge', 'erase') AND report ? 'started' ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var id int64
		var status, text string
		require.NoError(t, rows.Scan(&id, &status, &text))
		var r runReport
		require.NoError(t, json.Unmarshal([]byte(text), &r))
		committed := map[string]int64{}
		for _, rc := range byRun[id] {
			for k, n := range rowMap(rc.Rows) {
				committed[k] += n
			}
		}
		reported := map[string]int64{}
		for k, n := range r.Rows {
			if n != 0 {
				reported[k] = n
			}
		}
		if got, want := r.Counters["subjects_done"], int64(len(byRun[id])); got != want {
			problems = append(problems, fmt.Sprintf("run %d (%s) reports subjects_done %d, but committed %d receipts", id, status, got, want))
		}
		if !equalCounts(reported, committed) {
			problems = append(problems, fmt.Sprintf("run %d (%s) reports rows %s, but committed %s", id, status, fmtCounts(reported), fmtCounts(committed)))
		}
	}
	require.NoError(t, rows.Err())
	return problems
}

func fmtCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
