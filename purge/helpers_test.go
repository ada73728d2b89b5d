package purge_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
	"github.com/stretchr/testify/require"
)

const hashKey = "test-hash-key"

var exampleSchema = func() string {
	b, err := os.ReadFile("../examples/schema.sql")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

var examplePolicy = func() string {
	b, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

type bundle struct {
	t   *testing.T
	db  *pgtest.DB
	pol *policy.Policy
}

func setup(t *testing.T, schema, pol string) *bundle {
	t.Helper()
	db := pgtest.NewDB(t, schema)
	b := &bundle{t: t, db: db}
	if pol != "" {
		p, err := policy.Parse([]byte(pol), "test.yaml")
		require.NoError(t, err)
		b.pol = p
	}
	return b
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func (b *bundle) config(mod ...func(*purge.Config)) purge.Config {
	cfg := purge.Config{
		Pool:   b.db.Pool,
		Policy: b.pol,
		Hasher: subject.NewHasher(hashKey),
		Logger: slog.New(slog.NewTextHandler(testLogWriter{b.t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&cfg)
	}
	return cfg
}

// run runs the purge and returns its report and exit code.
func (b *bundle) run(mod ...func(*purge.Config)) (*jobs.Report, int) {
	b.t.Helper()
	cfg := b.config(mod...)
	j, err := purge.New(cfg)
	require.NoError(b.t, err)
	return runJob(b.t, cfg, j)
}

func runJob(t *testing.T, cfg purge.Config, j jobs.Job) (*jobs.Report, int) {
	t.Helper()
	r, err := jobtest.Run(t, cfg.Pool, j, cfg.Limits)
	return r, jobs.ExitCode(err)
}

func dryRun(c *purge.Config) { c.DryRun = true }

// appSnapshot is every row of the application's schemas.
func (b *bundle) appSnapshot() map[string][]string {
	return b.db.Snapshot(b.t, "public", "billing")
}

func (b *bundle) appSnapshotOf(schemas ...string) map[string][]string {
	return b.db.Snapshot(b.t, schemas...)
}

func uuidOf(name string) string {
	// md5 of the name, as uuid, like examples/data.sql does.
	return md5uuid(name)
}
