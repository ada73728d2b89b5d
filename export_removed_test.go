package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
)

// TestPurgeErasesArchivesAfterExportSectionRemoved: archives written while
// the policy had export: are erased with their subjects even once the
// section is gone (the eraser works from the locations lethe.exports
// recorded). Before, the purge built no archive eraser without the section
// and reported success over an erased person's archive.
func TestPurgeErasesArchivesAfterExportSectionRemoved(t *testing.T) {
	t.Parallel()
	db, env := exampleDB(t, 40)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	archives := t.TempDir()
	var pol string
	for _, e := range env {
		if p, ok := strings.CutPrefix(e, "LETHE_POLICY="); ok {
			pol = p
		}
	}
	without := readFile(t, pol)
	with := without + `
export:
  request: {column: export_requested_at}
  to: "file://` + archives + `/"
  expire: 7d
  notify:
    webhook: {url: "` + hook.URL + `", secret_env: LETHE_EXPORT_WEBHOOK_SECRET, timeout: 10s}
`
	require.NoError(t, os.WriteFile(pol, []byte(with), 0o600))
	env = append(env, "LETHE_EXPORT_WEBHOOK_SECRET=s3cret")
	erased, kept := jobtest.MD5UUID("user20"), jobtest.MD5UUID("user21")
	db.Exec(t, `ALTER TABLE users ADD COLUMN export_requested_at timestamptz`)
	db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE id = ANY($1::uuid[])`, []string{erased, kept})

	r := lethe(t, env, "--job", "export")
	require.Equal(t, 0, r.Code, r.Stderr)
	before := files(t, archives)
	require.Len(t, before, 2, "one archive per request")

	require.NoError(t, os.WriteFile(pol, []byte(without), 0o600))
	r = lethe(t, env, "--job", "purge")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Zero(t, db.Int(t, `SELECT count(*) FROM users WHERE id = $1`, erased))
	require.Len(t, files(t, archives), 1, "the erased subject's archive is gone, the other stays")
	require.Zero(t, db.Int(t, `SELECT count(*) FROM lethe.exports WHERE subject_key = $1`, erased))
	require.Equal(t, 1, db.Int(t, `SELECT count(*) FROM lethe.exports WHERE expired_at IS NULL`), "the other archive is not marked expired")
}

// files lists the regular files under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	}))
	return out
}
