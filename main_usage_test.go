package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBareLetheAndVersionFlag: lethe alone printed only "no job selected"
// (and a missing database URL); --version was an unknown flag.
func TestBareLetheAndVersionFlag(t *testing.T) {
	t.Parallel()
	r := lethe(t, nil)
	require.Equal(t, 2, r.code, "a usage error")
	require.Contains(t, r.stderr, "Usage:")
	require.Contains(t, r.stderr, "lethe --job NAME")
	require.Empty(t, r.stdout)

	for _, arg := range []string{"--version", "-version", "version"} {
		r = lethe(t, nil, arg)
		require.Equal(t, 0, r.code, arg)
		require.Contains(t, r.stdout, "lethe dev (commit none, go", arg)
	}
}
