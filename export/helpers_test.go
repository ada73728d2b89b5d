package export

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
)

const hashKey = "test-hash-key"

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

type bundle struct {
	t   *testing.T
	db  *pgtest.DB
	pol *policy.Policy
}

func setup(t *testing.T, schema, pol string) *bundle {
	t.Helper()
	p, err := policy.Parse([]byte(pol), "test.yaml")
	require.NoError(t, err)
	return &bundle{t: t, db: pgtest.NewDB(t, schema), pol: p}
}

// option changes an export's configuration or its run's limits.
type option func(*Config, *jobs.Limits)

func (b *bundle) config() Config {
	return Config{
		Deps: jobs.Deps{Pool: roletest.Pool(b.t, b.db, b.pol), Policy: b.pol, Hasher: subject.NewHasher(hashKey), Logger: jobtest.Logger(b.t)},
	}
}

// export runs an export of key as the runner does and returns the job, its
// report and the exit code.
func (b *bundle) export(key string, opts ...option) (*Job, *jobs.Report, int) {
	b.t.Helper()
	cfg, limits := b.config(), jobs.Limits{}
	for _, o := range opts {
		o(&cfg, &limits)
	}
	j, err := New(cfg, key)
	require.NoError(b.t, err)
	r, err := jobtest.Run(b.t, cfg.Pool, j, limits)
	if err != nil {
		b.t.Logf("run error: %v", err)
	}
	return j, r, jobs.ExitCode(err)
}

// exportErr is export that returns the run's error.
func (b *bundle) exportErr(key string, opts ...option) error {
	b.t.Helper()
	cfg, limits := b.config(), jobs.Limits{}
	for _, o := range opts {
		o(&cfg, &limits)
	}
	j, err := New(cfg, key)
	require.NoError(b.t, err)
	_, err = jobtest.Run(b.t, cfg.Pool, j, limits)
	return err
}

// eraseDryRun is the purge's own count of what erasing key would touch.
func (b *bundle) eraseDryRun(key string) map[string]int64 {
	b.t.Helper()
	limits := jobs.Limits{DryRun: true}
	pool := roletest.Pool(b.t, b.db, b.pol)
	j, err := purge.NewErase(purge.Config{Deps: jobs.Deps{Pool: pool, Policy: b.pol}}, key)
	require.NoError(b.t, err)
	r, err := jobtest.Run(b.t, pool, j, limits)
	require.NoError(b.t, err)
	return r.Rows
}

func toFile(path string) option {
	return func(c *Config, _ *jobs.Limits) { c.Destination = Destination{Path: path} }
}

func dryRun(_ *Config, l *jobs.Limits) { l.DryRun = true }

// openArchive reads an archive: its manifest and each file's lines.
func openArchive(t *testing.T, path string) (*Manifest, map[string][]string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	var m Manifest
	files := map[string][]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		if f.Name == "manifest.json" {
			dec := json.NewDecoder(rc)
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&m))
		} else {
			sc := bufio.NewScanner(rc)
			sc.Buffer(nil, 1<<24)
			files[f.Name] = []string{}
			for sc.Scan() {
				files[f.Name] = append(files[f.Name], sc.Text())
			}
			require.NoError(t, sc.Err())
		}
		rc.Close()
	}
	require.Equal(t, FormatVersion, m.Format)
	return &m, files
}

// rowsOf sums a manifest's row counts as the jobs report keys them.
func rowsOf(m *Manifest) map[string]int64 {
	out := map[string]int64{}
	for _, e := range m.Tables {
		if e.Rows > 0 {
			out[jobs.RowKey(e.Table, e.Category)] += e.Rows
		}
	}
	return out
}

// tableColumns returns a table's columns and their types.
func tableColumns(t *testing.T, b *bundle, table string) map[string]string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, table)
	require.NoError(t, err)
	out := map[string]string{}
	for rows.Next() {
		var n, ty string
		require.NoError(t, rows.Scan(&n, &ty))
		out[n] = ty
	}
	require.NoError(t, rows.Err())
	return out
}

// checkRoundTrip reads every exported row back into the database: each
// line must match exactly one row of its table when every exported value
// is read with its type's standard input (RFC 3339 timestamps, base64
// bytea, numbers from strings, json as json), and the excluded columns
// must be absent.
func checkRoundTrip(t *testing.T, b *bundle, m *Manifest, files map[string][]string) {
	t.Helper()
	for _, e := range m.Tables {
		lines, ok := files[e.File]
		require.True(t, ok, "%s is in the archive", e.File)
		require.Len(t, lines, int(e.Rows), e.File)
		regclass := pgx.Identifier{e.Schema, e.Name}.Sanitize()
		cols := tableColumns(t, b, regclass)
		for _, line := range lines {
			var row map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(line), &row), e.File)
			require.Len(t, row, len(cols)-len(e.Excluded), "%s: every column but the excluded ones", e.File)
			for _, x := range e.Excluded {
				require.NotContains(t, row, x)
			}
			var conds []string
			var args []any
			for name, raw := range row {
				typ, ok := cols[name]
				require.True(t, ok, "%s: column %s", e.File, name)
				conds = append(conds, roundTripCond(t, pgx.Identifier{name}.Sanitize(), typ, raw, &args))
			}
			q := fmt.Sprintf("SELECT count(*) FROM %s t WHERE %s", regclass, strings.Join(conds, " AND "))
			require.Equal(t, 1, b.db.Int(t, q, args...), "%s: %s", e.File, line)
		}
	}
}

func roundTripCond(t *testing.T, col, typ string, raw json.RawMessage, args *[]any) string {
	t.Helper()
	if string(raw) == "null" {
		return "t." + col + " IS NULL"
	}
	var s string
	isString := json.Unmarshal(raw, &s) == nil
	if !isString {
		s = string(raw)
	}
	*args = append(*args, s)
	p := fmt.Sprintf("$%d", len(*args))
	base, array := strings.CutSuffix(typ, "[]")
	switch {
	case array && !isString:
		return fmt.Sprintf("to_jsonb(t.%s) = %s::jsonb", col, p)
	case strings.HasPrefix(base, "timestamp") && !array:
		_, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err, "%s is RFC 3339", col)
		require.True(t, strings.HasSuffix(s, "+00:00") || strings.HasSuffix(s, "Z"), "%s is UTC: %s", col, s)
		if strings.HasSuffix(base, "without time zone") {
			return fmt.Sprintf("t.%s = (%s::timestamptz AT TIME ZONE 'UTC')", col, p)
		}
		return fmt.Sprintf("t.%s = %s::timestamptz", col, p)
	case base == "bytea" && !array:
		require.True(t, isString)
		return fmt.Sprintf("t.%s = decode(%s, 'base64')", col, p)
	case base == "json" || base == "jsonb":
		return fmt.Sprintf("t.%s::jsonb = %s::jsonb", col, p)
	case base == "bigint" || strings.HasPrefix(base, "numeric"):
		require.True(t, isString, "%s (%s) is a string", col, typ)
	}
	return fmt.Sprintf("t.%s = %s::text::%s", col, p, typ)
}

func tempArchive(t *testing.T) string {
	return filepath.Join(t.TempDir(), "subject.zip")
}

func mustIdent(t *testing.T, s string) policy.Ident {
	t.Helper()
	id, err := policy.ParseIdent(s)
	require.NoError(t, err)
	return id
}
