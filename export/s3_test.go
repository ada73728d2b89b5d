package export

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/jobs"
)

// TestS3Destination: --out s3://bucket/prefix/ uploads the archive in parts
// as prefix/HASH.zip, larger than one part here; a failure part way
// leaves no object and no unfinished upload.
func TestS3Destination(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	bucket := srv.CreateBucket(t, miniotest.Versioned())
	client := srv.Client()
	b := sampleDB(t, 20)
	key := jobtest.MD5UUID("user6")
	// Enough incompressible rows for more than one 8 MiB part.
	b.db.Exec(t, `INSERT INTO documents (user_id, blob)
		SELECT $1, decode(string_agg(md5(i::text || '-' || j::text), ''), 'hex')
		FROM generate_series(1, 300) i, generate_series(1, 2000) j GROUP BY i`, key)
	dest := func(c *Config, _ *jobs.Limits) {
		c.Destination = Destination{Path: "s3://" + bucket + "/exports/", S3: client}
	}

	j, r, code := b.export(key, dest)
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, int64(301), r.Rows["documents delete"])
	obj, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("exports/" + j.Manifest.SubjectHash + ".zip")})
	require.NoError(t, err)
	body, err := io.ReadAll(obj.Body)
	require.NoError(t, err)
	require.Greater(t, len(body), partSize, "more than one part")
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	require.Equal(t, "manifest.json", zr.File[len(zr.File)-1].Name)

	_, _, code = b.export(key, dest, func(c *Config, _ *jobs.Limits) {
		c.Destination.Path = "s3://" + bucket + "/failed/"
		c.afterPart = func(file string) {
			if strings.HasSuffix(file, "documents.jsonl") {
				b.db.Exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
					WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction'`)
			}
		}
	})
	require.Equal(t, jobs.ExitFailed, code)
	list, err := client.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String("failed/")})
	require.NoError(t, err)
	require.Empty(t, list.Versions, "no archive")
	ups, err := client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Empty(t, ups.Uploads, "no unfinished upload")

	_, _, code = b.export(key, func(c *Config, _ *jobs.Limits) {
		c.Destination = Destination{Path: "s3://" + bucket + "/no-slash", S3: client}
	})
	require.Equal(t, jobs.ExitConfig, code)
}
