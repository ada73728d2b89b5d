package journal

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/lethe-project/lethe/internal/faultproxy"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }

// clock is a fake clock the journal names objects by.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func entry(hash string, at time.Time) Entry {
	return Entry{SubjectHash: hash, KeyID: "fp", ErasedAt: at, RunID: 7, PolicySHA256: "abc",
		Rows: []ledger.RowCount{{Table: "public.users", Action: "delete", Rows: 1}}, Objects: []ledger.ObjectCount{}, Processors: []string{}}
}

func hashN(n int) string { return string(rune('a'+n)) + "0000000000000000000000000000000" }

func readAll(t *testing.T, j *Journal, since time.Time) []string {
	t.Helper()
	var hs []string
	require.NoError(t, j.Read(context.Background(), since, func(e Entry) error {
		hs = append(hs, e.SubjectHash)
		return nil
	}))
	return hs
}

// exercise appends three objects at three times, reads them back whole
// and from a time on, and prunes the oldest.
func exercise(t *testing.T, j *Journal) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	j.now = c.now
	for i := range 3 {
		at := c.t.Add(-time.Minute)
		_, err := j.Append(ctx, []Entry{entry(hashN(2*i), at), entry(hashN(2*i+1), at)})
		require.NoError(t, err)
		c.t = c.t.Add(24 * time.Hour)
	}
	require.Equal(t, []string{hashN(0), hashN(1), hashN(2), hashN(3), hashN(4), hashN(5)}, readAll(t, j, time.Time{}))
	// Since the second day: the first object is not even read.
	require.Equal(t, []string{hashN(2), hashN(3), hashN(4), hashN(5)}, readAll(t, j, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)))

	n, err := j.Prune(ctx, time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []string{hashN(4), hashN(5)}, readAll(t, j, time.Time{}))
}

func TestFileJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := Open(context.Background(), "file://"+dir+"/journal/", nil)
	require.NoError(t, err)
	exercise(t, j)
	// Nothing half-written is left, and a stray file is ignored.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "journal", "README"), []byte("x"), 0o600))
	ents, err := os.ReadDir(filepath.Join(dir, "journal"))
	require.NoError(t, err)
	for _, e := range ents {
		require.NotContains(t, e.Name(), ".tmp")
	}
	require.Len(t, readAll(t, j, time.Time{}), 2)
}

func s3Journal(t *testing.T) (*Journal, *faultproxy.Proxy) {
	srv := miniotest.Start(t)
	proxy := faultproxy.Start(t, srv.Endpoint)
	bucket := srv.CreateBucket(t)
	newS3 := func(ctx context.Context) (*s3.Client, error) {
		return s3store.NewClient(ctx, s3store.Config{Region: miniotest.Region, Endpoint: proxy.URL, ForcePathStyle: true,
			Credentials: srv.Credentials(), MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	}
	j, err := Open(context.Background(), "s3://"+bucket+"/lethe/journal/", newS3)
	require.NoError(t, err)
	return j, proxy
}

func TestS3Journal(t *testing.T) {
	t.Parallel()
	j, _ := s3Journal(t)
	exercise(t, j)
}

func TestS3JournalUnavailable(t *testing.T) {
	t.Parallel()
	j, proxy := s3Journal(t)
	proxy.Inject(faultproxy.Fault{Action: faultproxy.SlowDown()})
	_, err := j.Append(context.Background(), []Entry{entry(hashN(0), time.Now())})
	require.Error(t, err)
	proxy.Clear()
	require.Empty(t, readAll(t, j, time.Time{}), "a refused write leaves nothing")
}

func TestOpenRejectsBadLocations(t *testing.T) {
	t.Parallel()
	for loc, want := range map[string]string{
		"":                    "want s3://bucket/prefix/ or file:///directory/",
		"/var/lib/journal":    "want s3://bucket/prefix/ or file:///directory/",
		"file://relative/dir": "want file:///absolute/directory/",
		"s3:///prefix/":       "missing bucket",
		"s3://bucket/prefix":  "must end in",
	} {
		_, err := Open(context.Background(), loc, nil)
		require.ErrorContains(t, err, want, loc)
	}
}

func TestReadRefusesNewerFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "20260101T000000.000000000Z-000000000000.jsonl"),
		[]byte(`{"v":2,"subject_hash":"a0000000000000000000000000000000"}`+"\n"), 0o600))
	j, err := Open(context.Background(), "file://"+dir, nil)
	require.NoError(t, err)
	err = j.Read(context.Background(), time.Time{}, func(Entry) error { return nil })
	require.ErrorContains(t, err, "upgrade lethe")
}

// TestReadMarksAgreesWithRead: the fast reader and the full decoder give
// the same marks, for lines as lethe writes them and for others.
func TestReadMarksAgreesWithRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := Open(context.Background(), "file://"+dir, nil)
	require.NoError(t, err)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	_, err = j.Append(context.Background(), []Entry{entry(hashN(0), at), entry(hashN(1), at.Add(time.Hour))})
	require.NoError(t, err)
	// Fields in another order and with spaces: not the fast path.
	other := `{"subject_hash": "` + hashN(2) + `", "v": 1, "erased_at": "2026-01-02T05:04:05Z"}` + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "20990101T000000.000000000Z-000000000000.jsonl"), []byte(other), 0o600))
	var full, fast []Mark
	require.NoError(t, j.Read(context.Background(), time.Time{}, func(e Entry) error {
		full = append(full, Mark{SubjectHash: e.SubjectHash, KeyID: e.KeyID, ErasedAt: e.ErasedAt})
		return nil
	}))
	require.NoError(t, j.ReadMarks(context.Background(), time.Time{}, func(m Mark) error {
		fast = append(fast, m)
		return nil
	}))
	require.Len(t, fast, 3)
	require.Equal(t, full, fast)
	require.Equal(t, "fp", fast[0].KeyID)

	var since []Mark
	require.NoError(t, j.ReadMarks(context.Background(), at.Add(time.Minute), func(m Mark) error {
		since = append(since, m)
		return nil
	}))
	require.Len(t, since, 2)
}

// TestS3JournalInAnObjectLockBucket: a bucket with Object Lock and a
// default retention takes the journal's objects, and keeps them: retention
// cannot remove them before the lock ends.
func TestS3JournalInAnObjectLockBucket(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	bucket := srv.CreateBucket(t, miniotest.ObjectLock())
	_, err := srv.Client().PutObjectLockConfiguration(context.Background(), &s3.PutObjectLockConfigurationInput{
		Bucket: aws.String(bucket),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeCompliance, Days: aws.Int32(1)}}},
	})
	require.NoError(t, err)
	j, err := Open(context.Background(), "s3://"+bucket+"/journal/", func(ctx context.Context) (*s3.Client, error) {
		return s3store.NewClient(ctx, s3store.Config{Region: miniotest.Region, Endpoint: srv.Endpoint, ForcePathStyle: true, Credentials: srv.Credentials()})
	})
	require.NoError(t, err)
	_, err = j.Append(context.Background(), []Entry{entry(hashN(0), time.Now())})
	require.NoError(t, err)
	require.Equal(t, []string{hashN(0)}, readAll(t, j, time.Time{}))
}
