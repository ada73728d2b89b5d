package main

import (
	"context"
	"io"
	"testing"

	"github.com/lethe-project/lethe/jobs"
	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"
)

func TestShardFromFlagOrIndexedJob(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string, args ...string) (*Config, error) {
		env["LETHE_DATABASE_URL"] = "postgres://x@127.0.0.1:1/x"
		return parseConfig(context.Background(), "run", append([]string{"--job", "retention"}, args...), envconfig.MapLookuper(env), io.Discard)
	}
	c, err := parse(map[string]string{}, "--shard", "1/3")
	require.NoError(t, err)
	require.Equal(t, jobs.Shard{Index: 1, Count: 3}, c.shard)
	c, err = parse(map[string]string{"LETHE_SHARDS": "4", "JOB_COMPLETION_INDEX": "2"})
	require.NoError(t, err)
	require.Equal(t, jobs.Shard{Index: 2, Count: 4}, c.shard)
	c, err = parse(map[string]string{})
	require.NoError(t, err)
	require.False(t, c.shard.Sharded())
	c, err = parse(map[string]string{"JOB_COMPLETION_INDEX": "2"})
	require.NoError(t, err, "an Indexed Job without LETHE_SHARDS does all the work")
	require.False(t, c.shard.Sharded())

	for _, bad := range []map[string]string{
		{"LETHE_SHARD": "3/3"}, {"LETHE_SHARD": "x"}, {"LETHE_SHARDS": "2"}, {"LETHE_SHARDS": "2", "JOB_COMPLETION_INDEX": "5"},
	} {
		_, err := parse(bad)
		require.Error(t, err, "%v", bad)
	}
	_, err = parse(map[string]string{"LETHE_MAX_THROTTLE": "-1s"})
	require.ErrorContains(t, err, "must not be negative")
}

// LETHE_PODS reaches the governor as the number of processes the share
// caps are divided among; a negative count is refused, naming the variable.
func TestPodsDivideTheShareCaps(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string) (*Config, error) {
		env["LETHE_DATABASE_URL"] = "postgres://x@127.0.0.1:1/x"
		return parseConfig(context.Background(), "run", []string{"--job", "purge"}, envconfig.MapLookuper(env), io.Discard)
	}
	c, err := parse(map[string]string{"LETHE_PODS": "3"})
	require.NoError(t, err)
	require.Equal(t, 3, limitsOf(c, context.Background()).Governor.Processes)
	_, err = parse(map[string]string{"LETHE_PODS": "-2"})
	require.ErrorContains(t, err, "LETHE_PODS=-2")
}
