package export

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/delivery"
	"github.com/lethe-project/lethe/internal/faultproxy"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/objstore/s3store"
)

const hookSecret = "hook-secret"

// receiver is the application's webhook on a real local HTTP server: it
// checks each signature and records every event it accepts.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []ReadyEvent
	keys   map[string]int // Idempotency-Key -> deliveries
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{keys: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := delivery.Verify([]byte(hookSecret), r.Header.Get(delivery.SignatureHeader), body, time.Hour, time.Now()); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev ReadyEvent
		if err := json.Unmarshal(body, &ev); err != nil || ev.ExportID != r.Header.Get("Idempotency-Key") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.events = append(rc.events, ev)
		rc.keys[ev.ExportID]++
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) snapshot() ([]ReadyEvent, map[string]int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	keys := map[string]int{}
	for k, v := range rc.keys {
		keys[k] = v
	}
	return append([]ReadyEvent(nil), rc.events...), keys
}

// requestDB is the sample database with an export_requested_at column and
// an export: section sending archives to `to` and telling hook.
func requestDB(t *testing.T, users int, to, hook string) *bundle {
	b := sampleDB(t, users, func(pol string) string {
		return pol + fmt.Sprintf(`
export:
  request: {column: export_requested_at}
  to: %q
  expire: 7d
  email: email
  notify:
    webhook: {url: %q, secret_env: EXPORT_HOOK_SECRET}
`, to, hook)
	})
	b.db.Exec(t, `ALTER TABLE users ADD COLUMN export_requested_at timestamptz`)
	return b
}

// requestJob runs the export job once.
func (b *bundle) requestJob(store *objstore.Router, client *s3.Client, opts ...func(*RequestConfig)) (*jobs.Report, error) {
	b.t.Helper()
	cfg := RequestConfig{Config: b.config(), S3: client}
	cfg.Objects = store
	cfg.Env = func(n string) (string, bool) { return hookSecret, n == "EXPORT_HOOK_SECRET" }
	for _, o := range opts {
		o(&cfg)
	}
	j, err := NewRequestJob(cfg)
	require.NoError(b.t, err)
	return jobtest.Run(b.t, b.db.Pool, j, jobs.Limits{BatchSize: 2})
}

func s3Store(client *s3.Client) *objstore.Router {
	return &objstore.Router{S3: s3store.NewWithClient(client), File: filestore.Store{}}
}

// TestRequestJob: each recorded request gets one archive in the bucket,
// one signed notice whose link downloads it, and is marked done; a second
// run does nothing again; once expired, the archives go with every
// version.
func TestRequestJob(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	bucket := srv.CreateBucket(t, miniotest.Versioned())
	client := srv.Client()
	hook := newReceiver(t)
	b := requestDB(t, 20, "s3://"+bucket+"/archives/", hook.srv.URL)
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() - interval '3 days' WHERE email IN ('user6@example.com', 'user7@example.com', 'user8@example.com')`)

	r, err := b.requestJob(s3Store(client), client)
	require.NoError(t, err)
	require.Equal(t, int64(3), r.Counter(jobs.ArchivesWritten))
	require.Equal(t, int64(3), r.Counter(RequestsDone))
	require.Equal(t, 3.0, r.Gauges[string(jobs.ExportPendingRequests)])
	require.InDelta(t, 3*86400, r.Gauges[string(jobs.ExportOldestRequestAgeSeconds)], 600)
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE export_requested_at IS NOT NULL`), "requests done")
	require.Equal(t, 3, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE status = 'done' AND subject_key IS NULL AND subject_hash IS NOT NULL`))

	events, keys := hook.snapshot()
	require.Len(t, events, 3)
	for _, n := range keys {
		require.Equal(t, 1, n, "one notice per request")
	}
	want := map[string]bool{jobtest.MD5UUID("user6"): true, jobtest.MD5UUID("user7"): true, jobtest.MD5UUID("user8"): true}
	for _, ev := range events {
		require.True(t, want[ev.SubjectKey])
		require.True(t, ev.ExpiresAt.After(time.Now().Add(6*24*time.Hour)))
		// The link is a presigned GET that anyone holding it can use.
		resp, err := http.Get(ev.URL)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		require.NoError(t, err)
		require.Equal(t, "manifest.json", zr.File[len(zr.File)-1].Name)
		unsigned, err := http.Get(strings.Split(ev.URL, "?")[0])
		require.NoError(t, err)
		unsigned.Body.Close()
		require.Equal(t, http.StatusForbidden, unsigned.StatusCode, "the archive is not public")
	}

	// Again: nothing to do, nothing sent.
	r, err = b.requestJob(s3Store(client), client)
	require.NoError(t, err)
	require.Zero(t, r.Counter(jobs.ArchivesWritten))
	events, _ = hook.snapshot()
	require.Len(t, events, 3)

	// Expiry: every version of each archive goes.
	b.db.Exec(t, `UPDATE lethe.exports SET expires_at = now() - interval '1 second'`)
	r, err = b.requestJob(s3Store(client), client)
	require.NoError(t, err)
	require.Equal(t, int64(3), r.Counter(ArchivesExpired))
	list, err := client.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String("archives/")})
	require.NoError(t, err)
	require.Empty(t, list.Versions)
	require.Empty(t, list.DeleteMarkers)
	require.Equal(t, 3, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE expired_at IS NOT NULL`))
}

// TestRequestTable: requests as rows of their own table, archives in a
// directory; a subject gone before its archive is written ends its request
// without an archive or a notice.
func TestRequestTable(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t)
	dir := t.TempDir()
	b := sampleDB(t, 20, func(pol string) string {
		return pol + fmt.Sprintf(`
export:
  request: {table: access_requests, match: user_id, requested_at: created_at, done_at: completed_at}
  to: "file://%s/"
  expire: 1d
  notify:
    webhook: {url: %q, secret_env: EXPORT_HOOK_SECRET}
`, dir, hook.srv.URL)
	})
	b.db.Exec(t, `CREATE TABLE access_requests (id serial PRIMARY KEY, user_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz)`)
	b.db.Exec(t, `INSERT INTO access_requests (user_id) SELECT id::text FROM users WHERE email IN ('user6@example.com', 'user9@example.com')`)
	b.db.Exec(t, `INSERT INTO access_requests (user_id) VALUES ('00000000-0000-0000-0000-000000000000')`)

	r, err := b.requestJob(&objstore.Router{File: filestore.Store{}}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), r.Counter(jobs.ArchivesWritten))
	require.Equal(t, int64(1), r.Counter(SubjectsGone))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM access_requests WHERE completed_at IS NULL`))
	events, _ := hook.snapshot()
	require.Len(t, events, 2)
	for _, ev := range events {
		require.True(t, strings.HasPrefix(ev.URL, dir+"/"), ev.URL)
		m, _ := openArchive(t, ev.URL)
		require.NotEmpty(t, m.Tables)
		info, err := os.Stat(ev.URL)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Len(t, files, 2, "no temporary file left")
}

// TestRequestBucketDown: a bucket that answers 503 fails the run (exit 1)
// with nothing marked done and nothing sent; the next run, with the bucket
// back, serves every request once.
func TestRequestBucketDown(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	bucket := srv.CreateBucket(t)
	proxy := faultproxy.Start(t, srv.Endpoint)
	client := s3.New(s3.Options{Region: miniotest.Region, BaseEndpoint: aws.String(proxy.URL), UsePathStyle: true,
		Credentials: srv.Credentials(), RetryMaxAttempts: 1})
	hook := newReceiver(t)
	b := requestDB(t, 20, "s3://"+bucket+"/archives/", hook.srv.URL)
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE email LIKE 'user1%'`)
	requests := b.db.Int(t, `SELECT count(*) FROM users WHERE export_requested_at IS NOT NULL`)
	require.Greater(t, requests, 3)

	rule := proxy.Inject(faultproxy.Fault{Action: faultproxy.SlowDown()})
	_, err := b.requestJob(s3Store(client), client)
	require.Error(t, err)
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err))
	require.Positive(t, rule.Hits())
	require.Equal(t, requests, b.db.Int(t, `SELECT count(*) FROM users WHERE export_requested_at IS NOT NULL`), "nothing marked done")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE status <> 'pending'`))
	events, _ := hook.snapshot()
	require.Empty(t, events)

	proxy.Clear()
	_, err = b.requestJob(s3Store(client), client)
	require.NoError(t, err)
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE export_requested_at IS NOT NULL`))
	_, keys := hook.snapshot()
	require.Len(t, keys, requests)
}

// TestRequestCrashAfterSend: a run that dies after the receiver accepted a
// notice and before that was recorded sends it again with the same
// Idempotency-Key, and the request is done once.
func TestRequestCrashAfterSend(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t)
	dir := t.TempDir()
	b := requestDB(t, 20, "file://"+dir+"/", hook.srv.URL)
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE email = 'user6@example.com'`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := RequestConfig{Config: b.config(), afterSend: func(string) { cancel() }}
	cfg.Objects = &objstore.Router{File: filestore.Store{}}
	cfg.Env = func(n string) (string, bool) { return hookSecret, n == "EXPORT_HOOK_SECRET" }
	j, err := NewRequestJob(cfg)
	require.NoError(t, err)
	s := jobs.NewSession(b.db.Pool, jobs.Limits{}, jobs.NewReport("export", false), nil)
	require.Error(t, j.Run(ctx, s))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM users WHERE export_requested_at IS NOT NULL`), "not done")

	_, err = b.requestJob(&objstore.Router{File: filestore.Store{}}, nil)
	require.NoError(t, err)
	_, keys := hook.snapshot()
	require.Len(t, keys, 1)
	for _, n := range keys {
		require.Equal(t, 2, n, "sent again with the same key")
	}
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE export_requested_at IS NOT NULL`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE status = 'done'`))
}

// TestPipelinedSameRows: the export job reads a subject's tables in one
// pipeline, with every column cast to text; its archive holds the same
// lines as the export of one subject, and they read back into the
// database unchanged.
func TestPipelinedSameRows(t *testing.T) {
	t.Parallel()
	b := sampleDB(t, 20)
	key := jobtest.MD5UUID("user6") // has documents with every type
	plain := tempArchive(t)
	_, _, code := b.export(key, toFile(plain))
	require.Equal(t, jobs.ExitOK, code)
	piped := filepath.Join(t.TempDir(), "piped.zip")
	cfg := b.config()
	cfg.Destination = Destination{Path: piped}
	j, err := New(cfg, key)
	require.NoError(t, err)
	j.pipelined = true
	_, err = jobtest.Run(t, b.db.Pool, j, jobs.Limits{})
	require.NoError(t, err)

	m1, f1 := openArchive(t, plain)
	m2, f2 := openArchive(t, piped)
	require.Equal(t, rowsOf(m1), rowsOf(m2))
	require.Equal(t, f1, f2)
	require.NotEmpty(t, f2["tables/public.documents.jsonl"])
	checkRoundTrip(t, b, m2, f2)
}

// TestRequestSubjectGoneBeforeNotice: a subject deleted after its archive
// was written and before the person was told (the receiver was down) is
// not told; the archive is deleted and the request ends as gone. (The
// subject cannot go while its archive is being written: the write batch
// holds its row, see TestExportWaitsForErasure.)
func TestRequestSubjectGoneBeforeNotice(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t)
	front, down := switchable(t, hook)
	dir := t.TempDir()
	b := requestDB(t, 20, "file://"+dir+"/", front.URL)
	lone := jobtest.MD5UUID("lone")
	b.db.Exec(t, `INSERT INTO users (id, email, name, export_requested_at) VALUES ($1, 'lone@example.com', 'Lone', now())`, lone)
	down.Store(true)
	_, err := b.requestJob(&objstore.Router{File: filestore.Store{}}, nil)
	require.Error(t, err)
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE status = 'written'`))
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Len(t, files, 1, "the archive is written")

	b.db.Exec(t, `DELETE FROM users WHERE id = $1`, lone)
	down.Store(false)
	_, err = b.requestJob(&objstore.Router{File: filestore.Store{}}, nil)
	require.NoError(t, err)
	events, _ := hook.snapshot()
	require.Empty(t, events, "nobody told")
	files, _ = filepath.Glob(filepath.Join(dir, "*"))
	require.Empty(t, files, "the archive is gone")
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE status = 'gone' AND subject_key IS NULL`))
}
