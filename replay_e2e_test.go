package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/stretchr/testify/require"
)

// restoreWorld is a live database with files in a bucket, an erasure
// journal in another bucket, and the environment lethe runs with.
type restoreWorld struct {
	t        *testing.T
	db       *pgtest.DB
	env      []string
	s3       *s3.Client
	files    string // the bucket of the policy's objects
	subjects []string
}

// newRestoreWorld makes users users of the example data (about one in ten
// erasable), two files each under s3://files/users/{key}/, and a policy
// whose objects are there.
func newRestoreWorld(t *testing.T, users int) *restoreWorld {
	db, env := exampleDB(t, users)
	return restoreWorldOf(t, db, env)
}

// exampleDBOn is exampleDB on the cluster srv.
func exampleDBOn(t *testing.T, srv *pgtest.Server, users int) (*pgtest.DB, []string) {
	db := srv.NewDB(t, readFile(t, "examples/schema.sql"))
	data := readFile(t, "examples/data.sql")
	data = data[strings.Index(data, "INSERT"):]
	db.Exec(t, strings.ReplaceAll(data, ":users", fmt.Sprint(users)))
	return db, []string{"LETHE_DATABASE_URL=" + db.URL}
}

func restoreWorldOf(t *testing.T, db *pgtest.DB, env []string) *restoreWorld {
	srv := miniotest.Start(t)
	w := &restoreWorld{t: t, db: db, s3: srv.Client()}
	w.files = srv.CreateBucket(t)
	journalBucket := srv.CreateBucket(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	src := strings.Replace(readFile(t, "examples/policy.yaml"), "file:///var/lib/app/uploads/{key}/", "s3://"+w.files+"/users/{key}/", 1)
	require.NoError(t, os.WriteFile(pol, []byte(src), 0o600))
	w.env = append(env[:1:1], "LETHE_POLICY="+pol, "LETHE_SUBJECT_HASH_KEY=test-key",
		"LETHE_JOURNAL=s3://"+journalBucket+"/lethe/journal/",
		"LETHE_S3_ENDPOINT="+srv.Endpoint, "LETHE_S3_PATH_STYLE=true", "AWS_REGION="+miniotest.Region,
		"AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey)
	rows, err := db.Pool.Query(context.Background(), `SELECT id::text FROM users ORDER BY 1`)
	require.NoError(t, err)
	w.subjects, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	for _, id := range w.subjects {
		for _, f := range []string{"avatar.png", "cv.pdf"} {
			w.put("users/"+id+"/"+f, []byte("file "+f+" of "+id))
		}
	}
	return w
}

func (w *restoreWorld) put(key string, body []byte) {
	_, err := w.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(w.files), Key: aws.String(key), Body: bytes.NewReader(body)})
	require.NoError(w.t, err)
}

// bucket returns every object of the files bucket: key → body.
func (w *restoreWorld) bucket() map[string]string {
	ctx := context.Background()
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(w.s3, &s3.ListObjectsV2Input{Bucket: aws.String(w.files)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(w.t, err)
		for _, o := range page.Contents {
			obj, err := w.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(w.files), Key: o.Key})
			require.NoError(w.t, err)
			b, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			require.NoError(w.t, err)
			out[aws.ToString(o.Key)] = string(b)
		}
	}
	return out
}

// restoreBucket puts back every object of a copy of the bucket, as a
// restore of the bucket from its backup does.
func (w *restoreWorld) restoreBucket(backup map[string]string) {
	for k, v := range backup {
		w.put(k, []byte(v))
	}
}

// fingerprints is an md5 of the ordered rows of each application table.
func fingerprints(t *testing.T, pool *pgxpool.Pool) map[string]string {
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname IN ('public', 'billing') ORDER BY 1`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := map[string]string{}
	for _, tbl := range tables {
		var sum string
		require.NoError(t, pool.QueryRow(ctx, "SELECT md5(COALESCE(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM "+tbl+" t").Scan(&sum))
		out[tbl] = sum
	}
	return out
}

// receiptHashes returns the subject hashes of db's receipts; replayed
// ones only when replayed is true.
func receiptHashes(t *testing.T, pool *pgxpool.Pool, replayed bool) map[string]bool {
	rows, err := pool.Query(context.Background(), `SELECT subject_hash FROM lethe.receipts WHERE NOT $1 OR replayed_at IS NOT NULL`, replayed)
	require.NoError(t, err)
	hs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := map[string]bool{}
	for _, h := range hs {
		out[h] = true
	}
	return out
}

// dumpDB is pg_dump -Fc of db into a file.
func dumpDB(t *testing.T, db *pgtest.DB) string {
	bin, err := pgtest.BinDir()
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "backup.dump")
	cmd := exec.Command(filepath.Join(bin, "pg_dump"), "-Fc", "-f", out, "-d", db.URL)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	return out
}

// restoreDump restores a dump into a fresh database and returns a pool
// on it and its URL.
func restoreDump(t *testing.T, dump string) (*pgxpool.Pool, string) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	name := fmt.Sprintf("restored_%d_%d", os.Getpid(), time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, srv.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	url := srv.URLFor(name)
	bin, err := pgtest.BinDir()
	require.NoError(t, err)
	b, err := exec.Command(filepath.Join(bin, "pg_restore"), "--no-owner", "-d", url, dump).CombinedOutput()
	require.NoError(t, err, string(b))
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() {
		pool.Close()
		if a, err := pgx.Connect(context.Background(), srv.AdminURL); err == nil {
			_, _ = a.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			a.Close(context.Background())
		}
	})
	return pool, url
}

func withURL(env []string, url string) []string {
	out := []string{"LETHE_DATABASE_URL=" + url}
	for _, e := range env {
		if !strings.HasPrefix(e, "LETHE_DATABASE_URL=") {
			out = append(out, e)
		}
	}
	return out
}

// TestReplayAfterPgDumpRestore: issue 14 end to end, on 300 users (30 of
// them erased; bench/replay runs 1,000,000). A pg_dump and a copy of the
// bucket are taken, the purge erases, both are restored, and lethe replay
// makes the restored database and bucket what the purge left; a second
// replay changes nothing.
func TestReplayAfterPgDumpRestore(t *testing.T) {
	t.Parallel()
	w := newRestoreWorld(t, 300)
	dump := dumpDB(t, w.db)
	bucketBackup := w.bucket()

	r := lethe(t, w.env, "--job", "purge")
	require.Equal(t, 0, r.Code)
	purgedDB := fingerprints(t, w.db.Pool)
	purgedBucket := w.bucket()
	erased := receiptHashes(t, w.db.Pool, false)
	require.Len(t, erased, 29, "users 10, 20, ... 300 asked; user10 is on hold")
	require.Less(t, len(purgedBucket), len(bucketBackup))

	pool, url := restoreDump(t, dump)
	w.restoreBucket(bucketBackup)
	require.NotEqual(t, purgedDB, fingerprints(t, pool), "the restore brought the erased back")
	require.Equal(t, bucketBackup, w.bucket())
	env := withURL(w.env, url)

	r = lethe(t, env, "replay", "--dry-run")
	require.Equal(t, 0, r.Code)
	require.Regexp(t, `subjects found: 29\n`, r.Stdout)
	require.NotEqual(t, purgedDB, fingerprints(t, pool), "a dry run changes nothing")

	r = lethe(t, env, "replay")
	require.Equal(t, 0, r.Code)
	require.Equal(t, purgedDB, fingerprints(t, pool))
	require.Equal(t, purgedBucket, w.bucket())
	require.Equal(t, erased, receiptHashes(t, pool, true), "every erasure's receipt is back, marked replayed")
	// lethe receipt on the restored database tells the original erasure.
	user20 := jobtest.MD5UUID("user20")
	live := lethe(t, w.env, "receipt", "--subject", user20)
	r = lethe(t, env, "receipt", "--subject", user20)
	require.Equal(t, 0, r.Code)
	erasedAt := func(out string) string { return out[strings.Index(out, " erased at "):strings.Index(out, " (run ")] }
	require.Equal(t, erasedAt(live.Stdout), erasedAt(r.Stdout), "the original erasure time")

	r = lethe(t, env, "replay")
	require.Equal(t, 0, r.Code)
	require.Regexp(t, `subjects found: 0\n`, r.Stdout)
	require.Equal(t, purgedDB, fingerprints(t, pool))
	require.Equal(t, purgedBucket, w.bucket())
}

// TestReplayKilledThenRerun: SIGKILL in the middle of a replay (some
// batches committed, one waiting on a row lock the test holds), then a
// rerun finishes it: the same end state as an uninterrupted replay.
func TestReplayKilledThenRerun(t *testing.T) {
	t.Parallel()
	w := newRestoreWorld(t, 200)
	dump := dumpDB(t, w.db)
	bucketBackup := w.bucket()
	require.Equal(t, 0, lethe(t, w.env, "--job", "purge").Code)
	purgedDB, purgedBucket := fingerprints(t, w.db.Pool), w.bucket()

	pool, url := restoreDump(t, dump)
	w.restoreBucket(bucketBackup)
	ctx := context.Background()
	// The subject the scan meets last is in the replay's last batch: lock
	// its row so that the replay blocks there, after the earlier batches.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var last string
	require.NoError(t, tx.QueryRow(ctx, `SELECT id::text FROM users WHERE deleted_at < now() - interval '30 days' AND NOT legal_hold
		ORDER BY ctid DESC LIMIT 1 FOR UPDATE`).Scan(&last))

	env := append(withURL(w.env, url), "LETHE_BATCH_SIZE=4", "LETHE_WORKERS=1", "LETHE_LOCK_TIMEOUT=10m")
	cmd, stderr := startBlocked(t, env, "replay")
	require.Eventually(t, func() bool {
		var n int
		// A row lock (the locked subject's), not an earlier wait such as
		// the ledger migration's advisory lock.
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lethe' AND wait_event_type = 'Lock'
			AND wait_event IN ('transactionid', 'tuple')`).Scan(&n)
		return n > 0
	}, time.Minute, 20*time.Millisecond, stderr.String())
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	require.Equal(t, -1, waitExit(t, cmd))
	var replayed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM lethe.receipts WHERE replayed_at IS NOT NULL`).Scan(&replayed))
	require.Positive(t, replayed, "batches before the blocked one committed")
	require.NoError(t, tx.Rollback(ctx))

	r := lethe(t, withURL(w.env, url), "replay")
	require.Equal(t, 0, r.Code)
	require.Equal(t, purgedDB, fingerprints(t, pool))
	require.Equal(t, purgedBucket, w.bucket())
	require.Equal(t, receiptHashes(t, w.db.Pool, false), receiptHashes(t, pool, true))
}

// TestReplayAfterBaseBackupRestore: the same with a physical backup, on 200
// users: pg_basebackup of a private cluster, the purge, then the backup
// started as a cluster of its own on another port, the bucket restored,
// and lethe replay.
func TestReplayAfterBaseBackupRestore(t *testing.T) {
	t.Parallel()
	srv, err := pgtest.NewServer(nil)
	if err != nil {
		t.Skipf("no private cluster: %v", err)
	}
	t.Cleanup(srv.Close)
	db, env := exampleDBOn(t, srv, 200)
	w := restoreWorldOf(t, db, env)
	backup, err := srv.BaseBackup()
	require.NoError(t, err)
	t.Cleanup(backup.Close)
	bucketBackup := w.bucket()

	require.Equal(t, 0, lethe(t, w.env, "--job", "purge").Code)
	purgedDB, purgedBucket := fingerprints(t, w.db.Pool), w.bucket()
	erased := receiptHashes(t, w.db.Pool, false)

	require.NoError(t, backup.Restart())
	url := backup.URLFor(db.Name)
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	w.restoreBucket(bucketBackup)
	require.NotEqual(t, purgedDB, fingerprints(t, pool))

	r := lethe(t, withURL(w.env, url), "replay")
	require.Equal(t, 0, r.Code)
	require.Equal(t, purgedDB, fingerprints(t, pool))
	require.Equal(t, purgedBucket, w.bucket())
	require.Equal(t, erased, receiptHashes(t, pool, true))
	r = lethe(t, withURL(w.env, url), "replay")
	require.Equal(t, 0, r.Code)
	require.Equal(t, purgedDB, fingerprints(t, pool))
}
