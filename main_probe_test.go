package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"
)

func TestLatencyProbeSettingsReachTheGovernor(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string) (*Config, error) {
		env["LETHE_DATABASE_URL"] = "postgres://x@127.0.0.1:1/x"
		return parseConfig(context.Background(), "run", []string{"--job", "retention"}, envconfig.MapLookuper(env), io.Discard)
	}
	c, err := parse(map[string]string{})
	require.NoError(t, err)
	g := limitsOf(c, context.Background()).Governor
	require.True(t, g.LatencyProbe, "on by default in the binary")

	c, err = parse(map[string]string{"LETHE_LATENCY_PROBE": "false", "LETHE_PROBE_FACTOR": "3",
		"LETHE_PROBE_MIN_LATENCY": "5ms", "LETHE_MIN_DB_SHARE": "0.2", "LETHE_MAX_DB_SHARE": "0.3", "LETHE_DB_SHARE_RAMP": "0.02"})
	require.NoError(t, err)
	g = limitsOf(c, context.Background()).Governor
	require.False(t, g.LatencyProbe)
	require.Equal(t, 3.0, g.ProbeFactor)
	require.Equal(t, 5*time.Millisecond, g.MinProbeLatency)
	require.Equal(t, 0.2, g.MinShare)
	require.Equal(t, 0.3, g.MaxShare)
	require.Equal(t, 0.02, g.ShareRamp)

	for _, bad := range []map[string]string{{"LETHE_PROBE_FACTOR": "-1"}, {"LETHE_MIN_DB_SHARE": "1.5"}, {"LETHE_PROBE_MIN_LATENCY": "-1ms"}} {
		_, err := parse(bad)
		require.ErrorContains(t, err, "LETHE_PROBE_FACTOR", "%v", bad)
	}
	for _, bad := range []map[string]string{{"LETHE_MAX_DB_SHARE": "1.5"}, {"LETHE_MAX_DB_SHARE": "-0.1"},
		{"LETHE_MAX_DB_SHARE": "0.1", "LETHE_MIN_DB_SHARE": "0.2"}, {"LETHE_DB_SHARE_RAMP": "-0.05"}, {"LETHE_DB_SHARE_RAMP": "2"}} {
		_, err := parse(bad)
		require.ErrorContains(t, err, "LETHE_MAX_DB_SHARE", "%v", bad)
	}
}
