package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDryRunExecute: --dry-run=execute runs the purge's statements and
// rolls back; a value other than true, false or execute is refused.
func TestDryRunExecute(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 20)
	before := db.Snapshot(t, "public", "billing")
	r := lethe(t, env, "--job", "purge", "--dry-run=execute", "--summary")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "wishlists")
	require.Equal(t, before, db.Snapshot(t, "public", "billing"))

	r = lethe(t, env, "--job", "retention", "--dry-run=execute")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "--dry-run=execute is for the purge")

	r = lethe(t, env, "--job", "purge", "--dry-run=maybe")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, `want true, false or execute, not "maybe"`)
}
