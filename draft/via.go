package draft

import (
	"fmt"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/policy"
)

// breakViaCycles turns into ignore entries the via rules that close a loop
// (merge_requests.latest_merge_request_diff_id via merge_request_diffs,
// whose rows reach the subject via merge_requests): plan cannot order
// them, and such a back-reference points at a row of the same subject's.
// Rules that keep their rows go first, then the latest added.
func (d *Draft) breakViaCycles() {
	for _, keepFirst := range []bool{true, false} {
		for i := len(d.Rules) - 1; i >= 0; i-- {
			r := d.Rules[i]
			if r.Via == nil || r.Via == r.Table || (r.Action == policy.Delete) == keepFirst || !d.viaReaches(r.Via, r.Table) {
				continue
			}
			d.Rules = append(d.Rules[:i], d.Rules[i+1:]...)
			d.Ignores = append(d.Ignores, Ignore{Table: r.Table, Column: r.Match,
				Reason: fmt.Sprintf("points back at a %s row, and %s rows reach the subject through %s: a row of the same subject's", r.Via, r.Via, r.Table),
				Review: fmt.Sprintf("if %s.%s can point at another person's %s rows, add a rule (a via loop cannot be ordered: use a direct match or on:)", r.Table, r.Match, r.Via)})
		}
	}
}

// viaReaches reports whether rows of from reach the subject through to,
// following the draft's via rules.
func (d *Draft) viaReaches(from, to *catalog.Table) bool {
	seen := map[*catalog.Table]bool{}
	next := []*catalog.Table{from}
	for len(next) > 0 {
		t := next[len(next)-1]
		next = next[:len(next)-1]
		if t == to {
			return true
		}
		if seen[t] {
			continue
		}
		seen[t] = true
		for _, r := range d.Rules {
			if r.Table == t && r.Via != nil && r.Via != t {
				next = append(next, r.Via)
			}
		}
	}
	return false
}
