package purge_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/export"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
)

// TestNoRequestRecordedBeforeTheCommit: an access request the export job
// would record between the batch's clearing of lethe.exports and its
// commit (the snapshot still shows the subject) is not recorded: the
// export job records only while no purge batch is finishing, so the
// erased subject's key is never left in lethe.exports and its receipt
// passes verification. Before, the request was recorded with the key,
// and verification failed.
func TestNoRequestRecordedBeforeTheCommit(t *testing.T) {
	t.Parallel()
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	b := setup(t, exampleSchema+"\nALTER TABLE users ADD COLUMN export_requested_at timestamptz;", examplePolicy+fmt.Sprintf(`
export:
  request: {column: export_requested_at}
  to: "file://%s/"
  expire: 7d
  notify:
    webhook: {url: %q, secret_env: HOOK_SECRET}
`, dir, hook.URL))
	key := b.addUser("erin", "40 days", false, "")
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE id = $1`, key)
	store := &objstore.Router{File: filestore.Store{}}
	o := b.config()
	o.Objects = store
	archives, err := export.NewArchives(o.Pool, store, o.Logger)
	require.NoError(t, err)
	o.Erasers = []purge.Eraser{archives}
	j, err := purge.New(o.Config)
	require.NoError(t, err)
	var (
		during *jobs.Report
		derr   error
	)
	purge.SetInTx(j, func(pgx.Tx) {
		rc := export.RequestConfig{Config: export.Config{Deps: o.Deps}}
		rc.Env = func(n string) (string, bool) { return "s", n == "HOOK_SECRET" }
		ej, err := export.NewRequestJob(rc)
		require.NoError(t, err)
		during, derr = jobtest.Run(t, o.Pool, ej, jobs.Limits{})
	})
	_, code := runJob(t, o, j)
	require.Equal(t, jobs.ExitOK, code)
	require.NoError(t, derr)
	require.Zero(t, during.Counter(export.RequestsRecorded), "not recorded while the batch was finishing")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE subject_key IS NOT NULL`))
	rec, err := ledger.ReceiptsFor(t.Context(), b.db.Pool, subject.NewHasher(hashKey).Hash(key))
	require.NoError(t, err)
	require.Len(t, rec, 1)
	require.Equal(t, "passed", rec[0].Verification)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Empty(t, files)
}
