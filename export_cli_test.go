package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
)

// TestExportCommand: lethe export streams the archive to stdout when it is
// not a terminal, writes --out FILE, lists counts with --dry-run, and
// refuses a bad key with exit 2 without echoing it or writing anything.
func TestExportCommand(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 30)
	key := jobtest.MD5UUID("user6")

	r := lethe(t, env, "export", "--subject", key)
	require.Equal(t, 0, r.Code)
	zr, err := zip.NewReader(bytes.NewReader([]byte(r.Stdout)), int64(len(r.Stdout)))
	require.NoError(t, err, "stdout is the archive")
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	require.Contains(t, names, "manifest.json")
	require.Contains(t, names, "tables/public.users.id.jsonl")
	require.NotContains(t, r.Stderr, key, "logs never hold the key")

	r = lethe(t, env, "export", "--subject", key, "--dry-run")
	require.Equal(t, 0, r.Code)
	require.Contains(t, r.Stdout, "dry run")
	require.Contains(t, r.Stdout, "billing.invoices")

	out := filepath.Join(t.TempDir(), "user6.zip")
	r = lethe(t, env, "export", "--subject", key, "--out", out)
	require.Equal(t, 0, r.Code)
	zf, err := zip.OpenReader(out)
	require.NoError(t, err)
	defer zf.Close()
	mf, err := zf.Open("manifest.json")
	require.NoError(t, err)
	var m struct {
		SubjectHash string `json:"subject_hash"`
	}
	require.NoError(t, json.NewDecoder(mf).Decode(&m))
	require.Len(t, m.SubjectHash, 32)
	require.Equal(t, 2, db.Int(t, `SELECT count(*) FROM lethe.runs WHERE job = 'export' AND status = 'succeeded'`))
	require.Equal(t, 1, db.Int(t, `SELECT count(*) FROM lethe.runs WHERE report->'labels'->>'destination' = 'stdout'`))

	bad := filepath.Join(t.TempDir(), "bad.zip")
	for _, k := range []string{"no-such; key", jobtest.MD5UUID("nobody")} {
		r = lethe(t, env, "export", "--subject", k, "--out", bad)
		require.Equal(t, 2, r.Code)
		require.NotContains(t, r.Stderr+r.Stdout, k)
		entries, err := os.ReadDir(filepath.Dir(bad))
		require.NoError(t, err)
		require.Empty(t, entries)
	}
	r = lethe(t, env, "export")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "--subject KEY is required")

	r = lethe(t, env, "check")
	require.Equal(t, 0, r.Code)
	require.NotContains(t, r.Stderr, "looks secret")
	db.Exec(t, "ALTER TABLE sessions ADD COLUMN device_fingerprint_hash text")
	r = lethe(t, env, "check")
	require.Equal(t, 0, r.Code, "a warning, not an error")
	require.Contains(t, r.Stderr, "lethe: warning: export: column sessions.device_fingerprint_hash looks secret and would be exported (export.exclude of the rule at line 11)")
}
