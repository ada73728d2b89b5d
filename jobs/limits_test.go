package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGuardAtEverySize: the share rule starts at minForShare, but nearly
// all of a small database never goes without --allow-large.
func TestGuardAtEverySize(t *testing.T) {
	l := Limits{}
	l.SetDefaults()
	cases := []struct {
		n, total int64
		refused  bool
	}{
		{48, 49, true}, // the wrong requested_at
		{44, 49, false},
		{3, 3, true},
		{2, 3, false},
		{2, 2, true},
		{1, 2, false},
		{1, 1, false}, // the only user asked to go
		{10, 10, true},
		{9, 10, false},
		{0, 0, false},
		{60, 100, true},  // the share rule
		{30, 100, false}, // fewer than minForShare
		{25, 100, false},
	}
	for _, c := range cases {
		err := l.Guard("subjects are eligible", c.n, c.total, 50, "check")
		if c.refused {
			var ge *GuardError
			require.ErrorAs(t, err, &ge, "%d of %d", c.n, c.total)
			require.Equal(t, ExitGuard, ExitCode(err))
		} else {
			require.NoError(t, err, "%d of %d", c.n, c.total)
		}
	}
	l.AllowLarge = true
	require.NoError(t, l.Guard("subjects are eligible", 3, 3, 50, "check"))
	l.AllowLarge, l.MaxShare = false, 1
	require.NoError(t, l.Guard("subjects are eligible", 3, 3, 50, "check"), "LETHE_MAX_SHARE=1 allows all")
}

func TestMergeAddsRowsAndCounters(t *testing.T) {
	r, b := NewReport("purge", false), NewReport("purge", false)
	r.AddRows("users", "delete", 1)
	b.AddRows("users", "delete", 2)
	b.Add("subjects_done", 2)
	r.Merge(b)
	require.Equal(t, int64(3), r.Rows[RowKey("users", "delete")])
	require.Equal(t, int64(2), r.Counter("subjects_done"))
}

// TestGuardTotalCapKeepsTheVerdict: the guard decides the same, with the
// same message, with the total counted up to GuardTotalCap as with the
// whole total, for shares and floors around the ones the jobs use.
func TestGuardTotalCapKeepsTheVerdict(t *testing.T) {
	trips := 0
	for _, share := range []float64{0.01, 0.25, 0.3, 0.5, 0.9, 0.95, 1} {
		for _, floor := range []int64{1, 10, 50} {
			l := Limits{MaxShare: share}
			l.SetDefaults()
			for n := int64(0); n <= 300; n++ {
				limit := l.GuardTotalCap(n, floor)
				for total := n; total <= 4*n+400; total++ {
					counted := total
					if limit > 0 {
						counted = min(total, limit)
					}
					want := l.Guard("x", n, total, floor, "h")
					got := l.Guard("x", n, counted, floor, "h")
					if (want == nil) != (got == nil) || (want != nil && want.Error() != got.Error()) {
						t.Fatalf("share %v floor %d n %d total %d: cap %d gives %v, the whole total %v", share, floor, n, total, limit, got, want)
					}
					if want != nil {
						trips++
					}
				}
			}
		}
	}
	require.Greater(t, trips, 1000, "the cases must include trips")
	l := Limits{AllowLarge: true}
	l.SetDefaults()
	require.Zero(t, l.GuardTotalCap(100, 50), "no total without a guard")
}
