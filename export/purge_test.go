package export

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/faultproxy"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/purge"
	"github.com/lethe-project/lethe/subject"
)

// purgeJob is the purge with the export archives' eraser, as lethe builds
// it for a policy with an export: section; after, when set, runs once the
// eraser is done, with the server process id of the batch's connection.
func (b *bundle) purgeJob(store *objstore.Router, after func(pid uint32)) (*jobs.Report, error) {
	b.t.Helper()
	cfg := b.config()
	// The export job's runs made lethe's schema as the test's superuser.
	cfg.Objects, cfg.Pool = store, b.db.Pool
	a, err := NewArchives(cfg.Pool, store, cfg.Logger)
	require.NoError(b.t, err)
	j, err := purge.New(purge.Config{Deps: cfg.Deps, Erasers: []purge.Eraser{&afterErase{Archives: a, after: after}}})
	require.NoError(b.t, err)
	return jobtest.Run(b.t, b.db.Pool, j, jobs.Limits{})
}

// afterErase is the archives' eraser with a hook after each Erase.
type afterErase struct {
	*Archives
	after func(pid uint32)
}

func (e *afterErase) Erase(ctx context.Context, b *purge.Batch) []purge.Outcome {
	outs := e.Archives.Erase(ctx, b)
	if e.after != nil {
		e.after(b.Tx.Conn().PgConn().PID())
	}
	return outs
}

// versions lists every version and delete marker under prefix.
func versions(t *testing.T, client *s3.Client, bucket, prefix string) int {
	t.Helper()
	list, err := client.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	require.NoError(t, err)
	return len(list.Versions) + len(list.DeleteMarkers)
}

// switchable is a webhook that answers 503 while down, else forwards to
// the receiver.
func switchable(t *testing.T, rc *receiver) (*httptest.Server, *atomic.Bool) {
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rc.srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &down
}

// TestPurgeErasesExportArchives: the purge of subjects with a served
// request (archive of two versions), a written one whose notice is not
// sent yet, and a pending one leaves no version of any archive and no key
// in lethe.exports; the receipt counts the archive; the export job then
// writes and sends nothing for them. Without the archives' eraser and the
// purge's forgetting of lethe.exports, the archives and keys stay.
func TestPurgeErasesExportArchives(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	bucket := srv.CreateBucket(t, miniotest.Versioned())
	proxy := faultproxy.Start(t, srv.Endpoint)
	client := s3.New(s3.Options{Region: miniotest.Region, BaseEndpoint: aws.String(proxy.URL), UsePathStyle: true,
		Credentials: srv.Credentials(), RetryMaxAttempts: 1})
	rc := newReceiver(t)
	hook, down := switchable(t, rc)
	b := requestDB(t, 20, "s3://"+bucket+"/archives/", hook.URL)
	done, written, pending := jobtest.MD5UUID("user6"), jobtest.MD5UUID("user7"), jobtest.MD5UUID("user8")

	// user6: served, and its archive rewritten once (two versions).
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE id = $1`, done)
	_, err := b.requestJob(s3Store(client), client)
	require.NoError(t, err)
	var id string
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), `SELECT id::text FROM lethe.exports WHERE status = 'done'`).Scan(&id))
	_, err = client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("archives/" + id + ".zip"),
		Body: bytes.NewReader([]byte("again"))})
	require.NoError(t, err)
	// user7: archive written, the receiver down.
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE id = $1`, written)
	down.Store(true)
	_, err = b.requestJob(s3Store(client), client)
	require.Error(t, err)
	// user8: recorded, the bucket down.
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE id = $1`, pending)
	proxy.Inject(faultproxy.Fault{Action: faultproxy.SlowDown()})
	_, err = b.requestJob(s3Store(client), client)
	require.Error(t, err)
	proxy.Clear()
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE status = 'written'`))
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE status = 'pending'`))
	require.Equal(t, 3, versions(t, client, bucket, "archives/"))

	b.db.Exec(t, `UPDATE users SET deleted_at = now() - interval '40 days' WHERE id = ANY($1::uuid[])`, []string{done, written, pending})
	r, err := b.purgeJob(s3Store(client), nil)
	require.NoError(t, err)
	require.Zero(t, r.Counter(jobs.SubjectsLeft))
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE id = ANY($1::uuid[])`, []string{done, written, pending}))
	require.Zero(t, versions(t, client, bucket, "archives/"), "no version of any archive is left")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE subject_key IS NOT NULL`), "no key left in lethe.exports")
	require.Equal(t, 3, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE subject_hash IS NOT NULL`))
	require.Equal(t, 2, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE status = 'gone'`))
	require.Equal(t, 2, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE expired_at IS NOT NULL`))

	h := subject.NewHasher(hashKey)
	rec, err := ledger.ReceiptsFor(t.Context(), b.db.Pool, h.Hash(done))
	require.NoError(t, err)
	require.Len(t, rec, 1)
	require.Equal(t, "passed", rec[0].Verification)
	require.Contains(t, rec[0].Objects, ledger.ObjectCount{Location: "s3://" + bucket + "/archives/{id}.zip", Objects: 2, Bytes: rec[0].Objects[0].Bytes, Archives: 1})
	rec, err = ledger.ReceiptsFor(t.Context(), b.db.Pool, h.Hash(pending))
	require.NoError(t, err)
	require.Len(t, rec, 1)
	require.Empty(t, rec[0].Objects, "no archive was written for the pending request")

	// The export job, receiver and bucket up: nothing written, nobody told.
	down.Store(false)
	r, err = b.requestJob(s3Store(client), client)
	require.NoError(t, err)
	require.Zero(t, r.Counter(jobs.ArchivesWritten))
	require.Zero(t, r.Counter(NoticesSent))
	events, _ := rc.snapshot()
	require.Len(t, events, 1, "only user6's notice, sent before the purge")
	require.Zero(t, versions(t, client, bucket, "archives/"))
}

// TestPurgeArchiveBucketDown: when the bucket answers 503, the purge fails
// (exit 1), the subject keeps its rows and gets no receipt; a run killed
// after the archive was deleted and before the batch committed leaves it
// for the next run, which finishes and verifies. Without the archives'
// eraser the first run succeeds with the archive still there.
func TestPurgeArchiveBucketDown(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	bucket := srv.CreateBucket(t, miniotest.Versioned())
	proxy := faultproxy.Start(t, srv.Endpoint)
	client := s3.New(s3.Options{Region: miniotest.Region, BaseEndpoint: aws.String(proxy.URL), UsePathStyle: true,
		Credentials: srv.Credentials(), RetryMaxAttempts: 1})
	rc := newReceiver(t)
	b := requestDB(t, 20, "s3://"+bucket+"/archives/", rc.srv.URL)
	key := jobtest.MD5UUID("user6")
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE id = $1`, key)
	_, err := b.requestJob(s3Store(client), client)
	require.NoError(t, err)
	require.Equal(t, 1, versions(t, client, bucket, "archives/"))
	b.db.Exec(t, `UPDATE users SET deleted_at = now() - interval '40 days' WHERE id = $1`, key)
	hash := subject.NewHasher(hashKey).Hash(key)

	rule := proxy.Inject(faultproxy.Fault{Action: faultproxy.SlowDown()})
	_, err = b.purgeJob(s3Store(client), nil)
	require.Error(t, err)
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err))
	require.Positive(t, rule.Hits())
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM users WHERE id = $1`, key), "the subject stays")
	rec, err := ledger.ReceiptsFor(t.Context(), b.db.Pool, hash)
	require.NoError(t, err)
	require.Empty(t, rec, "not recorded as erased")
	proxy.Clear()
	require.Equal(t, 1, versions(t, client, bucket, "archives/"))

	// Killed between deleting the archive and committing: the connection
	// goes before the commit.
	var killed atomic.Bool
	kill := func(pid uint32) {
		if killed.CompareAndSwap(false, true) {
			b.db.Exec(t, `SELECT pg_terminate_backend($1)`, int64(pid))
		}
	}
	_, _ = b.purgeJob(s3Store(client), kill)
	require.True(t, killed.Load())
	require.Zero(t, versions(t, client, bucket, "archives/"))

	_, err = b.purgeJob(s3Store(client), nil)
	require.NoError(t, err)
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE id = $1`, key))
	rec, err = ledger.ReceiptsFor(t.Context(), b.db.Pool, hash)
	require.NoError(t, err)
	require.Len(t, rec, 1)
	require.Equal(t, "passed", rec[0].Verification)
	require.Equal(t, []ledger.ObjectCount{{Location: "s3://" + bucket + "/archives/{id}.zip", Archives: 1}}, rec[0].Objects,
		"the rerun erased the archive the killed run had deleted")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE subject_key IS NOT NULL OR expired_at IS NULL`))
}

// TestExportWaitsForErasure: a request recorded while the purge holds its
// subject (between the purge's erasers and its commit) gets no archive and
// no notice: the export job leaves it for the next run, and the purge's
// commit ends it. Before the export job locked its subjects, it wrote the
// archive from a snapshot that still had the subject, and told the person,
// after the purge had looked for archives.
func TestExportWaitsForErasure(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	dir := t.TempDir()
	b := requestDB(t, 20, "file://"+dir+"/", rc.srv.URL)
	key := jobtest.MD5UUID("user6")
	b.db.Exec(t, `UPDATE users SET export_requested_at = now(), deleted_at = now() - interval '40 days' WHERE id = $1`, key)
	store := &objstore.Router{File: filestore.Store{}}

	var (
		during *jobs.Report
		derr   error
	)
	_, err := b.purgeJob(store, func(uint32) {
		if during == nil {
			during, derr = b.requestJob(store, nil)
		}
	})
	require.NoError(t, derr)
	require.NoError(t, err)
	require.NotNil(t, during)
	require.Equal(t, int64(1), during.Counter(RequestsRecorded))
	require.Zero(t, during.Counter(jobs.ArchivesWritten))
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Empty(t, files, "no archive")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE subject_key IS NOT NULL OR status <> 'gone'`))
	rec, err := ledger.ReceiptsFor(t.Context(), b.db.Pool, subject.NewHasher(hashKey).Hash(key))
	require.NoError(t, err)
	require.Len(t, rec, 1)
	require.Equal(t, "passed", rec[0].Verification)

	r, err := b.requestJob(store, nil)
	require.NoError(t, err)
	require.Zero(t, r.Counter(jobs.ArchivesWritten))
	events, _ := rc.snapshot()
	require.Empty(t, events, "nobody told")
}

// TestPurgeDoesNotWaitForTheExportJob: a purge that meets a request the
// export job holds (its notice being sent) keeps that subject for the next
// run (exit 1) without waiting; once the export job is done, the next
// purge erases the subject and its archive. Before, the purge waited for
// the export job's row until its lock timeout.
func TestPurgeDoesNotWaitForTheExportJob(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	dir := t.TempDir()
	b := requestDB(t, 20, "file://"+dir+"/", rc.srv.URL)
	key := jobtest.MD5UUID("user6")
	b.db.Exec(t, `UPDATE users SET export_requested_at = now(), deleted_at = now() - interval '40 days' WHERE id = $1`, key)
	store := &objstore.Router{File: filestore.Store{}}

	var perr error
	_, err := b.requestJob(store, nil, func(c *RequestConfig) {
		c.afterSend = func(string) { _, perr = b.purgeJob(store, nil) }
	})
	require.NoError(t, err)
	require.Error(t, perr)
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(perr))
	require.ErrorContains(t, perr, errArchiveBusy.Error())
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM users WHERE id = $1`, key), "kept for the next run")

	_, err = b.purgeJob(store, nil)
	require.NoError(t, err)
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM users WHERE id = $1`, key))
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Empty(t, files, "the archive is erased")
	require.Zero(t, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE subject_key IS NOT NULL OR expired_at IS NULL`))
}

// TestPurgeFindsArchivesUnderAPreviousHashKey: a served request holds only
// the keyed hash of its time; after the hash key changed, the purge finds
// its archive through the previous key. Without Previous, the archive
// stays.
func TestPurgeFindsArchivesUnderAPreviousHashKey(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	dir := t.TempDir()
	b := requestDB(t, 20, "file://"+dir+"/", rc.srv.URL)
	key := jobtest.MD5UUID("user6")
	b.db.Exec(t, `UPDATE users SET export_requested_at = now() WHERE id = $1`, key)
	store := &objstore.Router{File: filestore.Store{}}
	_, err := b.requestJob(store, nil)
	require.NoError(t, err)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Len(t, files, 1)
	b.db.Exec(t, `UPDATE users SET deleted_at = now() - interval '40 days' WHERE id = $1`, key)

	cfg := b.config()
	cfg.Objects, cfg.Pool, cfg.Hasher = store, b.db.Pool, subject.NewHasher("the new key")
	a, err := NewArchives(cfg.Pool, store, cfg.Logger)
	require.NoError(t, err)
	a.Previous = []*subject.Hasher{subject.NewHasher(hashKey)}
	j, err := purge.New(purge.Config{Deps: cfg.Deps, Erasers: []purge.Eraser{a}})
	require.NoError(t, err)
	_, err = jobtest.Run(t, b.db.Pool, j, jobs.Limits{})
	require.NoError(t, err)
	files, _ = filepath.Glob(filepath.Join(dir, "*"))
	require.Empty(t, files, "the archive is erased")
	rec, err := ledger.ReceiptsFor(t.Context(), b.db.Pool, cfg.Hasher.Hash(key))
	require.NoError(t, err)
	require.Len(t, rec, 1)
	require.Equal(t, "passed", rec[0].Verification)
	require.Equal(t, 1, b.db.Int(t, `SELECT count(*) FROM lethe.exports WHERE expired_at IS NOT NULL`))
}
