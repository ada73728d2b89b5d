package export

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/filestore"
	"github.com/lethe-project/lethe/objstore/s3store"
)

// crm is a processor's API on a real local HTTP server: it answers each
// known user's copy at /users/{key} to a caller with the right token.
type crm struct {
	srv   *httptest.Server
	calls atomic.Int64
	fail  atomic.Bool
}

func newCRM(t *testing.T) *crm {
	c := &crm{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.calls.Add(1)
		switch {
		case r.Header.Get("Authorization") != "Bearer crm-secret":
			w.WriteHeader(http.StatusUnauthorized)
		case c.fail.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/users/"):
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id": %q, "plan": "pro", "notes": ["a", "b"]}`, strings.TrimPrefix(r.URL.Path, "/users/"))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// outsideDB is the sample database whose policy has an S3 location, a
// file location and a processor with an export_url.
func outsideDB(t *testing.T, bucket string, c *crm, uploads string) *bundle {
	return sampleDB(t, 20, func(pol string) string {
		pol = strings.Replace(pol, "objects:\n", fmt.Sprintf("objects:\n  - location: \"s3://%s/users/{key}/\"\n  - location: \"file://%s/{key}.txt\"\n", bucket, uploads), 1)
		return pol + fmt.Sprintf(`
processors:
  - name: crm
    url: "%[1]s/erase/{key}"
    export_url: "%[1]s/users/{key}"
    headers: {Authorization: "Bearer ${CRM_TOKEN}"}
    max_attempts: 1
`, c.srv.URL)
	})
}

func put(t *testing.T, client *s3.Client, bucket, key, body string) {
	t.Helper()
	_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	require.NoError(t, err)
}

// TestObjectsAndProcessors: the archive holds the current version of each
// object at the subject's locations (not old versions, not deleted ones,
// not another subject's) under files/, and the processor's JSON answer
// under processors/; the manifest lists both.
func TestObjectsAndProcessors(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	bucket := srv.CreateBucket(t, miniotest.Versioned())
	client := srv.Client()
	c := newCRM(t)
	uploads := t.TempDir()
	b := outsideDB(t, bucket, c, uploads)
	key, other := jobtest.MD5UUID("user6"), jobtest.MD5UUID("user7")
	put(t, client, bucket, "users/"+key+"/cv.txt", "old cv")
	put(t, client, bucket, "users/"+key+"/cv.txt", "new cv")
	put(t, client, bucket, "users/"+key+"/photos/a.jpg", "jpeg")
	put(t, client, bucket, "users/"+key+"/gone.txt", "deleted")
	_, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("users/" + key + "/gone.txt")})
	require.NoError(t, err)
	put(t, client, bucket, "users/"+other+"/cv.txt", "not theirs")
	require.NoError(t, os.WriteFile(filepath.Join(uploads, key+".txt"), []byte("local file"), 0o600))

	env := func(n string) (string, bool) {
		return map[string]string{"CRM_TOKEN": "crm-secret"}[n], n == "CRM_TOKEN"
	}
	store := &objstore.Router{S3: s3store.NewWithClient(client), File: filestore.Store{}}
	with := func(cfg *Config, _ *jobs.Limits) { cfg.Objects, cfg.Env = store, env }

	_, dry, code := b.export(key, with, dryRun)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(3), dry.Counters[string(ObjectsToExport)])
	require.Equal(t, int64(1), dry.Counters[string(ProcessorsToAsk)])
	require.Zero(t, c.calls.Load(), "a dry run asks no processor")

	path := tempArchive(t)
	j, _, code := b.export(key, with, toFile(path))
	require.Equal(t, jobs.ExitOK, code)
	contents := archiveFiles(t, path)
	require.Equal(t, "new cv", contents["files/"+bucket+"/users/"+key+"/cv.txt"])
	require.Equal(t, "jpeg", contents["files/"+bucket+"/users/"+key+"/photos/a.jpg"])
	require.Equal(t, "local file", contents["files/"+strings.TrimPrefix(uploads, "/")+"/"+key+".txt"])
	for name := range contents {
		require.NotContains(t, name, "gone.txt")
		require.NotContains(t, name, other)
	}
	require.Len(t, j.Manifest.Objects, 3)
	var answer map[string]any
	require.NoError(t, json.Unmarshal([]byte(contents["processors/crm.json"]), &answer))
	require.Equal(t, key, answer["id"])
	require.Equal(t, []ProcessorEntry{{Name: "crm", File: "processors/crm.json"}}, j.Manifest.Processors)
}

// TestProcessorFailure: a processor that fails, or a secret that is not
// set, fails the export with a clear error and leaves no archive.
func TestProcessorFailure(t *testing.T) {
	t.Parallel()
	c := newCRM(t)
	b := outsideDB(t, "unused", c, t.TempDir())
	key := jobtest.MD5UUID("user6")
	env := func(n string) (string, bool) {
		return map[string]string{"CRM_TOKEN": "crm-secret"}[n], n == "CRM_TOKEN"
	}
	b.pol.Objects = b.pol.Objects[1:] // no bucket here: the file locations only
	c.fail.Store(true)
	path := tempArchive(t)
	err := b.exportErr(key, toFile(path), func(cfg *Config, _ *jobs.Limits) { cfg.Env = env })
	require.ErrorContains(t, err, "processor crm: GET "+c.srv.URL+"/users/{key}: status 503")
	require.NotContains(t, err.Error(), key)
	require.Equal(t, jobs.ExitFailed, jobs.ExitCode(err))
	require.NoFileExists(t, path)
	require.NoFileExists(t, path+".tmp")

	_, err = New(Config{Deps: jobs.Deps{Pool: b.db.Pool, Policy: b.pol, Env: func(string) (string, bool) { return "", false }}}, key)
	require.ErrorContains(t, err, "CRM_TOKEN is not set")
	require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err))
}

// archiveFiles reads every entry of an archive.
func archiveFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		body, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		out[f.Name] = string(body)
	}
	return out
}

// TestObjectsNamedByRows: objects whose keys the application stores in a
// column of a table the purge deletes from are exported too: a single
// object and every object under a stored prefix, only the subject's.
func TestObjectsNamedByRows(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	bucket := srv.CreateBucket(t, miniotest.Versioned())
	client := srv.Client()
	b := sampleDB(t, 20, func(pol string) string {
		pol = strings.Replace(pol, "objects:\n", fmt.Sprintf("objects:\n  - {table: uploads, column: storage_key, location: \"s3://%s/{storage_key}\"}\n", bucket), 1)
		return strings.Replace(pol, "\nignore:\n", "\n  - {table: uploads, match: user_id, action: delete}\nignore:\n", 1)
	})
	b.db.Exec(t, `CREATE TABLE uploads (id serial PRIMARY KEY, user_id uuid NOT NULL REFERENCES users (id), storage_key text)`)
	key, other := jobtest.MD5UUID("user6"), jobtest.MD5UUID("user7")
	b.db.Exec(t, `INSERT INTO uploads (user_id, storage_key) VALUES ($1, 'docs/a.pdf'), ($1, 'albums/9/'), ($1, NULL), ($2, 'docs/b.pdf')`, key, other)
	put(t, client, bucket, "docs/a.pdf", "pdf a")
	put(t, client, bucket, "albums/9/1.jpg", "one")
	put(t, client, bucket, "albums/9/2.jpg", "two")
	put(t, client, bucket, "docs/b.pdf", "not theirs")
	store := &objstore.Router{S3: s3store.NewWithClient(client), File: filestore.Store{}}

	path := tempArchive(t)
	j, _, code := b.export(key, toFile(path), func(cfg *Config, _ *jobs.Limits) { cfg.Objects = store })
	require.Equal(t, jobs.ExitOK, code)
	contents := archiveFiles(t, path)
	require.Equal(t, "pdf a", contents["files/"+bucket+"/docs/a.pdf"])
	require.Equal(t, "one", contents["files/"+bucket+"/albums/9/1.jpg"])
	require.Equal(t, "two", contents["files/"+bucket+"/albums/9/2.jpg"])
	require.NotContains(t, contents, "files/"+bucket+"/docs/b.pdf")
	require.Len(t, j.Manifest.Objects, 3)
}
