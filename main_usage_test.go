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
