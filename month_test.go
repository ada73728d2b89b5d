package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCheckWarnsWhenGraceLeavesNoRoomInTheMonth: issue 10. lethe check
// still succeeds (the policy is valid), but says on stderr when the grace
// period, plus the longest wait for the next purge when LETHE_SCHEDULE
// names it, leaves no room in the month of GDPR Art. 12(3).
func TestCheckWarnsWhenGraceLeavesNoRoomInTheMonth(t *testing.T) {
	t.Parallel()
	_, env := exampleDB(t, 20)
	withGrace := func(grace string) string {
		p := filepath.Join(t.TempDir(), "policy.yaml")
		src := strings.Replace(readFile(t, "examples/policy.yaml"), "grace: 30d", "grace: "+grace, 1)
		require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
		return p
	}

	r := lethe(t, env, "check") // the example: grace: 30d
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stderr, "warning: subject.grace 30d leaves no room")
	require.Contains(t, r.Stdout, "is valid")

	r = lethe(t, env, "check", "--policy", withGrace("14d"))
	require.Equal(t, 0, r.Code)
	require.NotContains(t, r.Stderr, "warning: subject.grace")

	// 20 days of grace and a weekly purge: a request can wait 27 days.
	weekly := append(append([]string{}, env...), "LETHE_SCHEDULE=purge=0 3 * * 1; retention=0 4 * * *")
	r = lethe(t, weekly, "check", "--policy", withGrace("20d"))
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stderr, "warning: subject.grace 20d plus up to 7d between purge runs (LETHE_SCHEDULE) leaves no room")
	daily := append(append([]string{}, env...), "LETHE_SCHEDULE=purge=0 3 * * *")
	r = lethe(t, daily, "check", "--policy", withGrace("20d"))
	require.Equal(t, 0, r.Code)
	require.NotContains(t, r.Stderr, "warning: subject.grace")
}

func TestLongestGap(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for spec, want := range map[string]time.Duration{
		"0 3 * * *":             24 * time.Hour,
		"0 3 * * 1":             7 * 24 * time.Hour,
		"0 3 1 * *":             31 * 24 * time.Hour,
		"@every 90m":            90 * time.Minute,
		"0 3 * * 1-5":           3 * 24 * time.Hour,
		"CRON_TZ=UTC 0 3 * * *": 24 * time.Hour,
	} {
		got, err := longestGap(spec, false, from)
		require.NoError(t, err, spec)
		require.Equal(t, want, got, spec)
	}
	_, err := longestGap("not a spec", false, from)
	require.Error(t, err)
}
