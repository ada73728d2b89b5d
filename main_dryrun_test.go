package main

import (
	"context"
	"io"
	"testing"

	"github.com/sethvargo/go-envconfig"

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

// TestDryRunExecuteFromTheEnvironment: LETHE_DRY_RUN=execute is
// --dry-run=execute; the flag replaces it; a bad value names the variable.
func TestDryRunExecuteFromTheEnvironment(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 20)
	before := db.Snapshot(t, "public", "billing")
	r := lethe(t, append(env, "LETHE_DRY_RUN=execute"), "--job", "purge", "--summary")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "wishlists")
	require.Equal(t, before, db.Snapshot(t, "public", "billing"))

	r = lethe(t, append(env, "LETHE_DRY_RUN=execute"), "--job", "retention")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "--dry-run=execute is for the purge (lethe --job purge), as flag or as LETHE_DRY_RUN")
	r = lethe(t, append(env, "LETHE_DRY_RUN=execute"), "--job", "retention", "--dry-run")
	require.Equal(t, 0, r.Code, "the flag replaces the variable: %s", r.Stderr)

	r = lethe(t, append(env, "LETHE_DRY_RUN=maybe"), "--job", "purge")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "LETHE_DRY_RUN")
	require.Contains(t, r.Stderr, `want true, false or execute, not "maybe"`)
}

// TestDryRunModes: how LETHE_DRY_RUN and --dry-run combine.
func TestDryRunModes(t *testing.T) {
	for _, c := range []struct {
		env, flag    string
		dry, execute bool
	}{
		{"", "", false, false},
		{"true", "", true, false},
		{"execute", "", true, true},
		{"execute", "--dry-run=false", false, false},
		{"execute", "--dry-run", true, false},
		{"false", "--dry-run=execute", true, true},
	} {
		env := map[string]string{"LETHE_JOB": "purge", "LETHE_DATABASE_URL": "postgres://localhost/x"}
		if c.env != "" {
			env["LETHE_DRY_RUN"] = c.env
		}
		var args []string
		if c.flag != "" {
			args = append(args, c.flag)
		}
		cfg, err := parseConfig(context.Background(), "run", args, envconfig.MapLookuper(env), io.Discard)
		require.NoError(t, err, "%+v", c)
		require.Equal(t, [2]bool{c.dry, c.execute}, [2]bool{cfg.DryRun, cfg.DryRunExecute}, "%+v", c)
	}
}
