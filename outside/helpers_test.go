package outside_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/faultproxy"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/internal/roletest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/outside"
	"github.com/lethe-project/lethe/policy"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
)

func TestMain(m *testing.M) {
	code := miniotest.Run(m)
	pgtest.Stop()
	os.Exit(code)
}

const hashKey = "test-hash-key"

// schema is the example schema plus an uploads table whose rows name
// objects by key.
var schema = read("../examples/schema.sql") + `
CREATE TABLE uploads (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    storage_key text NOT NULL
);
`

// examplePolicy is examples/policy.yaml with a delete rule for uploads and
// without its objects: section: each test writes its own.
var examplePolicy = regexp.MustCompile(`(?ms)^objects:\n.*?\n\n`).ReplaceAllString(
	strings.Replace(read("../examples/policy.yaml"), "\ntables:\n",
		"\ntables:\n  - table: uploads\n    match: user_id\n    action: delete\n\n", 1), "")

func read(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// processorServer stands in for a third party: it records each request's
// path and Idempotency-Key and answers status (or what answer says).
type processorServer struct {
	mu     sync.Mutex
	keys   []string
	paths  []string
	status int
	// onCall, when set, runs for each request before the answer.
	onCall func(r *http.Request)
}

func (p *processorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.keys = append(p.keys, r.Header.Get("Idempotency-Key"))
	p.paths = append(p.paths, r.URL.Path)
	status, hook := p.status, p.onCall
	p.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	w.WriteHeader(status)
}

func (p *processorServer) seen() (keys, paths []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.keys...), append([]string(nil), p.paths...)
}

// bundle is one test's world: a database, a bucket reached through a fault
// proxy, a directory for file:// locations, and a processor behind another
// fault proxy.
type bundle struct {
	t       *testing.T
	db      *pgtest.DB
	bucket  string
	direct  *s3.Client
	s3proxy *faultproxy.Proxy
	store   *objstore.Router
	dir     string
	proc    *processorServer
	pproxy  *faultproxy.Proxy
	polText string
	pol     *policy.Policy
	env     map[string]string
	logger  *slog.Logger
	logs    *jobtest.Logs
}

func setup(t *testing.T, opts ...miniotest.BucketOption) *bundle {
	t.Helper()
	srv := miniotest.Start(t)
	b := &bundle{t: t, db: pgtest.NewDB(t, schema), direct: srv.Client(), dir: t.TempDir(),
		proc: &processorServer{status: http.StatusNoContent}, env: map[string]string{"CRM_TOKEN": "t0k"}}
	// The erasers' logger: the dry-run test reads what they would do.
	b.logger, b.logs = jobtest.CaptureLogger(t)
	b.bucket = srv.CreateBucket(t, opts...)
	// An account nobody asked to delete, so that the blast-radius guard
	// (which refuses nearly all subjects at once) lets the tests' purges run.
	b.db.Exec(t, `INSERT INTO users (id, email, name) VALUES ($1, 'bystander@example.com', 'bystander')`, jobtest.MD5UUID("bystander"))
	b.s3proxy = faultproxy.Start(t, srv.Endpoint)
	s3, err := s3store.New(context.Background(), s3store.Config{
		Region: miniotest.Region, Endpoint: b.s3proxy.URL, ForcePathStyle: true,
		Credentials: srv.Credentials(), MaxAttempts: 3,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, AttemptTimeout: time.Second,
	})
	require.NoError(t, err)
	b.store = &objstore.Router{S3: s3, File: filestore.Store{}}
	hs := httptest.NewServer(b.proc)
	t.Cleanup(hs.Close)
	b.pproxy = faultproxy.Start(t, hs.URL)
	b.polText = examplePolicy + fmt.Sprintf(`
objects:
  - location: "s3://%[1]s/users/{key}/"
  - location: "file://%[2]s/{key}/"
  - table: uploads
    column: storage_key
    location: "s3://%[1]s/uploads/{storage_key}"
processors:
  - name: crm
    url: "%[3]s/v1/users/{key}"
    headers: {Authorization: "Bearer ${CRM_TOKEN}"}
    timeout: 500ms
    max_attempts: 3
    backoff: 10ms
    max_backoff: 50ms
`, b.bucket, b.dir, b.pproxy.URL)
	b.pol, err = policy.Parse([]byte(b.polText), "test.yaml")
	require.NoError(t, err)
	return b
}

// erasers builds the erasers as main does, with the test's environment.
func (b *bundle) erasers() ([]purge.Eraser, error) {
	lookup := func(name string) (string, bool) { v, ok := b.env[name]; return v, ok }
	return outside.New(b.pol, b.store, lookup, nil, b.logger)
}

// run runs the purge with the erasers, and limits changed by mod, and
// returns its exit code and error.
func (b *bundle) run(mod ...func(*jobs.Limits)) (int, error) {
	b.t.Helper()
	es, err := b.erasers()
	require.NoError(b.t, err)
	cfg := purge.Config{
		Deps:    jobs.Deps{Pool: roletest.Pool(b.t, b.db, b.pol), Policy: b.pol, Hasher: subject.NewHasher(hashKey), Logger: jobtest.Logger(b.t)},
		Erasers: es,
	}
	var limits jobs.Limits
	for _, m := range mod {
		m(&limits)
	}
	j, err := purge.New(cfg)
	require.NoError(b.t, err)
	_, err = jobtest.Run(b.t, cfg.Pool, j, limits)
	return jobs.ExitCode(err), err
}

// user is a subject of the example schema with data in S3, on disk and in
// uploads.
type user struct{ id, hash string }

// addUser inserts a user whose deletion was requested requested ago ("" for
// never), with rows in sessions and uploads, and objects: three versions
// of a.png, b.txt with a delete marker and sub/c under its prefix, an
// upload under uploads/, and a directory with a file.
func (b *bundle) addUser(name, requested string) user {
	t := b.t
	t.Helper()
	u := user{id: jobtest.MD5UUID(name), hash: subject.NewHasher(hashKey).Hash(jobtest.MD5UUID(name))}
	var req any
	if requested != "" {
		req = requested
	}
	b.db.Exec(t, `INSERT INTO users (id, email, name, deleted_at) VALUES ($1, $2 || '@example.com', $2, now() - $3::interval)`, u.id, name, req)
	b.db.Exec(t, `INSERT INTO sessions (user_id, ip) VALUES ($1, '192.0.2.1')`, u.id)
	b.db.Exec(t, `INSERT INTO uploads (user_id, storage_key) VALUES ($1, $2)`, u.id, name+"/2026/doc.pdf")
	for _, body := range []string{"v1", "v22", "v333"} {
		b.put("users/"+u.id+"/a.png", body)
	}
	b.put("users/"+u.id+"/b.txt", "bbbb")
	_, err := b.direct.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String("users/" + u.id + "/b.txt")})
	require.NoError(t, err)
	b.put("users/"+u.id+"/sub/c", "c")
	b.put("uploads/"+name+"/2026/doc.pdf", "pdf!")
	require.NoError(t, os.MkdirAll(filepath.Join(b.dir, u.id, "x"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, u.id, "x", "f.txt"), []byte("file"), 0o644))
	return u
}

func (b *bundle) put(key, body string) {
	b.t.Helper()
	_, err := b.direct.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), Body: strings.NewReader(body),
	})
	require.NoError(b.t, err)
}

// versions counts versions and delete markers under prefix, directly.
func (b *bundle) versions(prefix string) int {
	b.t.Helper()
	n := 0
	p := s3.NewListObjectVersionsPaginator(b.direct, &s3.ListObjectVersionsInput{Bucket: aws.String(b.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(b.t, err)
		n += len(page.Versions) + len(page.DeleteMarkers)
	}
	return n
}

// state is everything of a user, in and outside the database.
type state struct {
	Users, Sessions, Uploads int
	Prefix, Upload           int
	Dir                      bool
}

func (b *bundle) state(name string) state {
	id := jobtest.MD5UUID(name)
	_, err := os.Stat(filepath.Join(b.dir, id))
	return state{
		Users:    b.db.Int(b.t, `SELECT count(*) FROM users WHERE id = $1`, id),
		Sessions: b.db.Int(b.t, `SELECT count(*) FROM sessions WHERE user_id = $1`, id),
		Uploads:  b.db.Int(b.t, `SELECT count(*) FROM uploads WHERE user_id = $1`, id),
		Prefix:   b.versions("users/" + id + "/"),
		Upload:   b.versions("uploads/" + name + "/"),
		Dir:      err == nil,
	}
}

// seeded is the state of a user that addUser made.
var seeded = state{Users: 1, Sessions: 1, Uploads: 1, Prefix: 6, Upload: 1, Dir: true}

func (b *bundle) receipt(u user) ledger.Receipt {
	b.t.Helper()
	rs, err := ledger.ReceiptsFor(context.Background(), b.db.Pool, u.hash)
	require.NoError(b.t, err)
	require.Len(b.t, rs, 1)
	return rs[0]
}
