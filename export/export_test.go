package export

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/jobs"
)

// typedTable adds to the sample schema a table with the types whose JSON
// form needs care, and columns that must never leave.
const typedTable = `
CREATE TABLE documents (
    id            bigserial PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    blob          bytea,
    amount        numeric(16,4),
    big           bigint,
    ratio         double precision,
    meta          json,
    props         jsonb,
    seen_at       timestamp,
    tags          text[],
    stamps        timestamp[],
    password_hash text,
    api_token     text,
    internal_flag boolean
);`

const typedRule = `
  - table: documents
    match: user_id
    action: delete
    export: {exclude: [internal_flag]}
`

// sampleDB loads the sample schema and data (n users) plus typedTable, and
// the example policy with a rule for it.
func sampleDB(t *testing.T, users int, edits ...func(pol string) string) *bundle {
	t.Helper()
	pol := strings.Replace(read(t, "../examples/policy.yaml"), "\nignore:\n", typedRule+"\nignore:\n", 1)
	pol = strings.Replace(pol, "file:///var/lib/app/uploads/", "file://"+t.TempDir()+"/", 1)
	for _, e := range edits {
		pol = e(pol)
	}
	b := setup(t, read(t, "../examples/schema.sql")+typedTable, pol)
	data := read(t, "../examples/data.sql")
	data = data[strings.Index(data, "INSERT"):] // drop the psql \if preamble
	b.db.Exec(t, strings.ReplaceAll(data, ":users", strconv.Itoa(users)))
	b.db.Exec(t, `INSERT INTO documents (user_id, blob, amount, big, ratio, meta, props, seen_at, tags, stamps, password_hash, api_token, internal_flag)
		SELECT id, '\x00ff10'::bytea || decode(repeat('ab', 100), 'hex'), 12345678901.2345, 9007199254740993, 0.1,
		       '{"a": [1, 2],
		         "b": "line\nbreak"}', '{"k": {"n": 1.5}}', '2026-03-29 01:30:00.123456', ARRAY['x', 'y "z"'],
		       ARRAY['2026-01-01 00:00:00'::timestamp], 'hash', 'tok', true
		FROM users WHERE email IN ('user6@example.com', 'user7@example.com')`)
	return b
}

// TestSampleExportMatchesErasure: for a subject, the archive holds exactly
// the rows the purge would delete, anonymize or keep, table by table, each
// row reads back into the database unchanged, the secrets are left out,
// and the export is recorded without the key.
func TestSampleExportMatchesErasure(t *testing.T) {
	t.Parallel()
	b := sampleDB(t, 60)
	key := jobtest.MD5UUID("user6") // has an invoice, invited user7, has documents
	before := b.db.Snapshot(t, "public", "billing")

	_, dry, code := b.export(key, dryRun)
	require.Equal(t, jobs.ExitOK, code)
	erase := b.eraseDryRun(key)
	require.Equal(t, erase, dry.Rows, "the export's dry run counts what the erasure would touch")
	_, upper, code := b.export(strings.ToUpper(key), dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, erase, upper.Rows, "an upper-case uuid names the same subject, notes (a text column) included")
	for _, k := range []string{"users delete", "users anonymize", "billing.invoices keep", "wishlist_items delete", "consent_records cascade", "documents delete"} {
		require.NotZero(t, erase[k], k)
	}

	path := tempArchive(t)
	j, r, code := b.export(key, toFile(path))
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, erase, r.Rows)
	m, files := openArchive(t, path)
	require.Equal(t, j.Manifest.Tables, m.Tables)
	require.Equal(t, erase, rowsOf(m))
	require.Len(t, files, len(m.Tables))
	require.Equal(t, b.pol.Digest, m.PolicySHA256)
	require.Len(t, m.SubjectHash, 32)
	require.True(t, m.Tables[0].Subject)
	require.Equal(t, "users", m.Tables[0].Table)
	require.Equal(t, "tables/public.users.id.jsonl", m.Tables[0].File)

	byFile := map[string]TableEntry{}
	for _, e := range m.Tables {
		byFile[e.File] = e
	}
	inv := byFile["tables/billing.invoices.jsonl"]
	require.Equal(t, "keep", inv.Category)
	require.Contains(t, inv.Basis, "tax law")
	doc := byFile["tables/public.documents.jsonl"]
	require.Equal(t, []string{"password_hash", "api_token", "internal_flag"}, doc.Excluded)
	require.Equal(t, []string{"email", "name", "last_active_at", "deleted_at", "legal_hold"}, byFile["tables/public.users.invited_by.jsonl"].Excluded,
		"the accounts the subject invited go without their own data")
	require.Equal(t, "wishlists", byFile["tables/public.wishlist_items.jsonl"].Via)
	require.Equal(t, "consent_records_user_id_fkey", byFile["tables/public.consent_records.jsonl"].ForeignKey)

	checkRoundTrip(t, b, m, files)
	checkSampleRows(t, b, key, files)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(files[doc.File][0]), &line))
	require.Equal(t, base64.StdEncoding.EncodeToString(append([]byte{0, 0xff, 0x10}, bytes.Repeat([]byte{0xab}, 100)...)), line["blob"])
	require.Equal(t, "12345678901.2345", line["amount"])
	require.Equal(t, "9007199254740993", line["big"])
	require.Equal(t, "2026-03-29T01:30:00.123456+00:00", line["seen_at"])
	require.Equal(t, map[string]any{"a": []any{1.0, 2.0}, "b": "line\nbreak"}, line["meta"])
	require.Equal(t, []any{"x", `y "z"`}, line["tags"])

	require.Equal(t, before, b.db.Snapshot(t, "public", "billing"), "an export changes nothing")
	var job, status, report string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(),
		"SELECT job, status, report::text FROM lethe.runs ORDER BY id DESC LIMIT 1").Scan(&job, &status, &report))
	require.Equal(t, "export", job)
	require.Equal(t, "succeeded", status)
	require.Contains(t, report, m.SubjectHash)
	require.Contains(t, report, `"destination": "file"`)
	require.Contains(t, report, `"users delete": 1`)
	require.NotContains(t, report, key)
	require.Equal(t, 1, b.db.Int(t, "SELECT count(*) FROM lethe.runs"), "the dry run records nothing")
}

// checkSampleRows compares the archive's rows with the database, found by
// queries written here by hand from the sample schema rather than by the
// planner: the same rows, by primary key, in every file.
func checkSampleRows(t *testing.T, b *bundle, key string, files map[string][]string) {
	t.Helper()
	want := map[string]string{
		"tables/public.users.id.jsonl":         `SELECT id::text FROM users WHERE id = $1`,
		"tables/public.users.invited_by.jsonl": `SELECT id::text FROM users WHERE invited_by = $1`,
		"tables/public.sessions.jsonl":         `SELECT id::text FROM sessions WHERE user_id = $1`,
		"tables/public.notes.jsonl":            `SELECT id::text FROM notes WHERE created_by = $1::text`,
		`tables/public.UserProfiles.jsonl`:     `SELECT "userId"::text FROM "UserProfiles" WHERE "userId" = $1`,
		"tables/billing.invoices.jsonl":        `SELECT id::text FROM billing.invoices WHERE user_id = $1`,
		"tables/public.wishlists.jsonl":        `SELECT id::text FROM wishlists WHERE user_id = $1`,
		"tables/public.wishlist_items.jsonl":   `SELECT i.id::text FROM wishlist_items i JOIN wishlists w ON w.id = i.wishlist_id WHERE w.user_id = $1`,
		"tables/public.activity_log.jsonl":     `SELECT id::text FROM activity_log WHERE user_id = $1`,
		"tables/public.consent_records.jsonl":  `SELECT id::text FROM consent_records WHERE user_id = $1`,
		"tables/public.documents.jsonl":        `SELECT id::text FROM documents WHERE user_id = $1`,
	}
	require.Len(t, files, len(want))
	for file, q := range want {
		lines, ok := files[file]
		require.True(t, ok, file)
		var got []string
		for _, l := range lines {
			var row map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &row))
			id, ok := row["id"]
			if !ok {
				id = row["userId"]
			}
			got = append(got, id.(string))
		}
		rows, err := b.db.Pool.Query(context.Background(), q, key)
		require.NoError(t, err)
		var exp []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			exp = append(exp, s)
		}
		require.NoError(t, rows.Err())
		sort.Strings(exp)
		sort.Strings(got)
		require.Equal(t, exp, got, file)
	}
}
