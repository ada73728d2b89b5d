package grants_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writePolicy writes the test policy with old replaced by new.
func (b *bundle) editPolicy(old, new string) []string {
	b.t.Helper()
	var path string
	for _, e := range b.env {
		if p, ok := strings.CutPrefix(e, "LETHE_POLICY="); ok {
			path = p
		}
	}
	src, err := os.ReadFile(path)
	require.NoError(b.t, err)
	require.Contains(b.t, string(src), old)
	edited := filepath.Join(b.t.TempDir(), "policy.yaml")
	require.NoError(b.t, os.WriteFile(edited, []byte(strings.Replace(string(src), old, new, 1)), 0o600))
	return append(append([]string{}, b.env...), "LETHE_POLICY="+edited)
}

// The IAM policy lets lethe list and delete versions under the policy's
// prefixes only, and never read an object.
func TestIAMPolicyCoversOnlyThePolicysPrefixes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.editPolicy("  - location: \"file://"+b.uploads+"/{key}/\"",
		"  - location: \"s3://app-uploads/users/{key}/\"\n  - location: \"s3://app-uploads/avatars/{key}.png\"\n  - location: \"s3://other/{key}/\"")
	r := b.lethe(env, "grants", "--format", "iam")
	require.Equal(t, 0, r.Code, r.Stderr)
	var doc struct {
		Statement []struct {
			Action    []string
			Resource  []string
			Condition map[string]map[string][]string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc), r.Stdout)
	require.Len(t, doc.Statement, 4)
	app, other := doc.Statement[0], doc.Statement[2]
	require.Equal(t, []string{"arn:aws:s3:::app-uploads"}, app.Resource)
	require.Equal(t, []string{"avatars/*", "users/*"}, app.Condition["StringLike"]["s3:prefix"])
	require.ElementsMatch(t, []string{"arn:aws:s3:::app-uploads/avatars/*", "arn:aws:s3:::app-uploads/users/*"}, doc.Statement[1].Resource)
	require.Contains(t, doc.Statement[1].Action, "s3:DeleteObjectVersion")
	require.Nil(t, other.Condition, "a template that starts with its placeholder lists the whole bucket")
	require.Equal(t, []string{"arn:aws:s3:::other/*"}, doc.Statement[3].Resource)
	for _, s := range doc.Statement {
		require.NotContains(t, s.Action, "s3:GetObject")
		require.NotContains(t, s.Action, "s3:PutObject")
	}

	// The SQL format carries the same policy as comments and stays a script.
	r = b.lethe(env, "grants")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "-- {\n")
	require.Contains(t, r.Stdout, "--       \"Sid\": \"LetheListVersions1\"")
	// file:// locations get a note on the directory instead.
	r = b.lethe(b.env, "grants")
	require.Contains(t, r.Stdout, "--   "+b.uploads+"/  (from file://"+b.uploads+"/{key}/)")
	r = b.lethe(b.env, "grants", "--format", "iam")
	require.Equal(t, 2, r.Code, "no s3:// location, no IAM policy")
}

// A policy that does not fit the database, or a bad flag, exits 2 and
// prints no script.
func TestGrantsRefusesABadPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.editPolicy("  - table: sessions\n", "  - table: sesions\n")
	r := b.lethe(env, "grants")
	require.Equal(t, 2, r.Code)
	require.Empty(t, r.Stdout)
	require.Contains(t, r.Stderr, "sesions")
	env = b.editPolicy("    column: created_at\n    keep: 90d", "    column: created\n    keep: 90d")
	r = b.lethe(env, "grants")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "created")
	for _, args := range [][]string{{"--format", "xml"}, {"--role", ""}, {"--role", "a$b"}} {
		r = b.lethe(b.env, append([]string{"grants"}, args...)...)
		require.Equal(t, 2, r.Code, args)
		require.Empty(t, r.Stdout)
	}
}

// TestIAMPolicyLetsTheExportJobWriteItsArchives: with an export: section
// the role reads the subjects' files (an archive holds them) and writes,
// reads and expires archives under export.to, and nothing more; without
// one it never reads an object (the test above).
func TestIAMPolicyLetsTheExportJobWriteItsArchives(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `ALTER TABLE users ADD COLUMN export_requested_at timestamptz`)
	env := b.editPolicy("  - location: \"file://"+b.uploads+"/{key}/\"", "  - location: \"s3://app-uploads/users/{key}/\"")
	var path string
	for _, e := range env {
		if p, ok := strings.CutPrefix(e, "LETHE_POLICY="); ok {
			path = p
		}
	}
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	section := "\nexport:\n  request: {column: export_requested_at}\n  to: \"s3://exports/archives/\"\n  expire: 7d\n" +
		"  notify: {webhook: {url: \"https://app.internal/hooks/lethe\", secret_env: LETHE_WEBHOOK_SECRET}}\n"
	require.NoError(t, os.WriteFile(path, append(src, section...), 0o600))

	r := b.lethe(env, "grants", "--format", "iam")
	require.Equal(t, 0, r.Code, r.Stderr)
	var doc struct {
		Statement []struct {
			Sid       string
			Action    []string
			Resource  []string
			Condition map[string]map[string][]string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &doc), r.Stdout)
	bySid := map[string]int{}
	for i, s := range doc.Statement {
		bySid[s.Sid] = i
	}
	read := doc.Statement[bySid["LetheExportReadFiles"]]
	require.Equal(t, []string{"s3:GetObject"}, read.Action)
	require.Equal(t, []string{"arn:aws:s3:::app-uploads/users/*"}, read.Resource)
	list := doc.Statement[bySid["LetheExportList"]]
	require.Equal(t, []string{"arn:aws:s3:::exports"}, list.Resource)
	require.Equal(t, []string{"archives/*"}, list.Condition["StringLike"]["s3:prefix"])
	archives := doc.Statement[bySid["LetheExportArchives"]]
	require.Equal(t, []string{"arn:aws:s3:::exports/archives/*"}, archives.Resource)
	require.ElementsMatch(t, []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"}, archives.Action)
	for _, s := range doc.Statement {
		if s.Sid != "LetheExportArchives" {
			require.NotContains(t, s.Action, "s3:PutObject", s.Sid)
		}
	}
}
