package main

import (
	"fmt"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/stretchr/testify/require"
)

// TestBareLetheAndVersionFlag: lethe alone printed only "no job selected"
// (and a missing database URL); --version was an unknown flag.
func TestBareLetheAndVersionFlag(t *testing.T) {
	t.Parallel()
	r := lethe(t, nil)
	require.Equal(t, 2, r.Code, "a usage error")
	require.Contains(t, r.Stderr, "Usage:")
	require.Contains(t, r.Stderr, "lethe --job NAME")
	require.Empty(t, r.Stdout)

	for _, arg := range []string{"--version", "-version", "version"} {
		r = lethe(t, nil, arg)
		require.Equal(t, 0, r.Code, arg)
		require.Contains(t, r.Stdout, "lethe dev (commit none, go", arg)
	}
}

// TestHelpGivesTheLimitsDefaults: the environment's help states the
// defaults the jobs apply. A changed default once left its help behind,
// and an edit of one line's "(default 0.25)" changed another's.
func TestHelpGivesTheLimitsDefaults(t *testing.T) {
	t.Parallel()
	var l jobs.Limits
	l.SetDefaults()
	help := map[string]string{}
	for _, v := range envVars {
		help[v[0]] = v[1]
	}
	for name, def := range map[string]string{
		"LETHE_MAX_SUBJECTS":      fmt.Sprint(l.MaxSubjects),
		"LETHE_MAX_SHARE":         fmt.Sprint(l.MaxShare),
		"LETHE_MAX_REPLICA_LAG":   l.Governor.MaxReplicaLag.String(),
		"LETHE_PROBE_FACTOR":      fmt.Sprint(l.Governor.ProbeFactor),
		"LETHE_PROBE_MIN_LATENCY": l.Governor.MinProbeLatency.String(),
		"LETHE_MIN_DB_SHARE":      fmt.Sprint(l.Governor.MinShare),
		"LETHE_MAX_DB_SHARE":      fmt.Sprint(l.Governor.MaxShare),
		"LETHE_DB_SHARE_RAMP":     fmt.Sprint(l.Governor.ShareRamp),
	} {
		require.Contains(t, help[name], "(default "+def, name)
	}
}
