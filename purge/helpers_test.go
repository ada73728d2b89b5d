package purge_test

import (
	"os"
	"testing"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/internal/roletest"
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

// options are a test run's purge config and the limits of its session.
type options struct {
	purge.Config
	jobs.Limits
}

func (b *bundle) config(mod ...func(*options)) options {
	o := options{Config: purge.Config{
		Deps: jobs.Deps{Pool: roletest.Pool(b.t, b.db, b.pol), Policy: b.pol, Hasher: subject.NewHasher(hashKey), Logger: jobtest.Logger(b.t)},
	}}
	for _, m := range mod {
		m(&o)
	}
	return o
}

// run runs the purge and returns its report and exit code.
func (b *bundle) run(mod ...func(*options)) (*jobs.Report, int) {
	b.t.Helper()
	o := b.config(mod...)
	j, err := purge.New(o.Config)
	require.NoError(b.t, err)
	return runJob(b.t, o, j)
}

func runJob(t *testing.T, o options, j jobs.Job) (*jobs.Report, int) {
	t.Helper()
	r, err := jobtest.Run(t, o.Pool, j, o.Limits)
	return r, jobs.ExitCode(err)
}

func dryRun(o *options) { o.DryRun = true }

// appSnapshot is every row of the application's schemas.
func (b *bundle) appSnapshot() map[string][]string {
	return b.db.Snapshot(b.t, "public", "billing")
}

func (b *bundle) appSnapshotOf(schemas ...string) map[string][]string {
	return b.db.Snapshot(b.t, schemas...)
}

func uuidOf(name string) string {
	// md5 of the name, as uuid, like examples/data.sql does.
	return jobtest.MD5UUID(name)
}
