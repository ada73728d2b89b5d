package s3store_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/faultproxy"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/objstore/s3store"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }

// testBundle is what a test needs: a bucket on the real server, a store
// that reaches it through a fault proxy, and a direct client to check.
type testBundle struct {
	bucket string
	proxy  *faultproxy.Proxy
	store  *s3store.Store
	direct *s3.Client
}

func setup(t *testing.T, opts ...miniotest.BucketOption) *testBundle {
	t.Helper()
	srv := miniotest.Start(t)
	proxy := faultproxy.Start(t, srv.Endpoint)
	store, err := s3store.New(context.Background(), s3store.Config{
		Region:         miniotest.Region,
		Endpoint:       proxy.URL,
		ForcePathStyle: true,
		Credentials:    srv.Credentials(),
		MaxAttempts:    4,
		MinBackoff:     10 * time.Millisecond,
		MaxBackoff:     50 * time.Millisecond,
		AttemptTimeout: 5 * time.Second,
	})
	require.NoError(t, err)
	return &testBundle{bucket: srv.CreateBucket(t, opts...), proxy: proxy, store: store, direct: srv.Client()}
}

func (b *testBundle) put(t *testing.T, key, body string) {
	t.Helper()
	_, err := b.direct.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(key), Body: strings.NewReader(body),
	})
	require.NoError(t, err)
}

func (b *testBundle) deleteMarker(t *testing.T, key string) {
	t.Helper()
	_, err := b.direct.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	require.NoError(t, err)
}

// versions counts versions and delete markers under prefix, directly.
func (b *testBundle) versions(t *testing.T, prefix string) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectVersionsPaginator(b.direct, &s3.ListObjectVersionsInput{Bucket: aws.String(b.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		n += len(page.Versions) + len(page.DeleteMarkers)
	}
	return n
}

func (b *testBundle) resolve(t *testing.T, template, key string) objstore.Resolved {
	t.Helper()
	loc, err := objstore.ParseLocation(fmt.Sprintf(template, b.bucket))
	require.NoError(t, err)
	r, err := loc.Resolve(map[string]string{"key": key})
	require.NoError(t, err)
	return r
}

// seedSubject writes three versions of one object, a deleted object (a
// version and a delete marker) and a nested object for subject 42, and
// objects of neighbours 420 and 43.
func (b *testBundle) seedSubject(t *testing.T) {
	t.Helper()
	for _, body := range []string{"v1", "v22", "v333"} {
		b.put(t, "users/42/a.png", body)
	}
	b.put(t, "users/42/b.txt", "bbbb")
	b.deleteMarker(t, "users/42/b.txt")
	b.put(t, "users/42/sub/c", "c")
	b.put(t, "users/420/x", "neighbour")
	b.put(t, "users/43/y", "neighbour")
}

func TestDeletePrefixVersioned(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	b.seedSubject(t)
	loc := b.resolve(t, "s3://%s/users/{key}/", "42")
	ctx := context.Background()

	usage, err := objstore.Usage(ctx, b.store, loc)
	require.NoError(t, err)
	require.Equal(t, objstore.Removed{Versions: 5, DeleteMarkers: 1, Bytes: 2 + 3 + 4 + 4 + 1}, usage)

	removed, err := b.store.Delete(ctx, loc)
	require.NoError(t, err)
	require.Equal(t, usage, removed)
	require.Zero(t, b.versions(t, "users/42/"), "every version and delete marker must be gone")
	exists, err := objstore.Exists(ctx, b.store, loc)
	require.NoError(t, err)
	require.False(t, exists)
	require.Equal(t, 1, b.versions(t, "users/420/"), "neighbour sharing a key prefix untouched")
	require.Equal(t, 1, b.versions(t, "users/43/"), "neighbour untouched")

	// Deleting again finds nothing and is not an error.
	removed, err = b.store.Delete(ctx, loc)
	require.NoError(t, err)
	require.Zero(t, removed)
}

func TestDeleteUnversioned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "users/42/a", "aa")
	b.put(t, "users/42/b", "b")
	b.put(t, "users/43/a", "x")
	removed, err := b.store.Delete(context.Background(), b.resolve(t, "s3://%s/users/{key}/", "42"))
	require.NoError(t, err)
	require.Equal(t, objstore.Removed{Versions: 2, Bytes: 3}, removed)
	require.Zero(t, b.versions(t, "users/42/"))
	require.Equal(t, 1, b.versions(t, "users/43/"))
}

func TestDeleteSingleObject(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	b.put(t, "42.png", "one")
	b.put(t, "42.png", "two")
	b.put(t, "42.png.bak", "keep")
	b.put(t, "420.png", "keep")
	loc := b.resolve(t, "s3://%s/{key}.png", "42")

	removed, err := b.store.Delete(context.Background(), loc)
	require.NoError(t, err)
	require.Equal(t, objstore.Removed{Versions: 2, Bytes: 6}, removed)
	require.Zero(t, b.versions(t, "42.png")-b.versions(t, "42.png.bak"))
	require.Equal(t, 1, b.versions(t, "42.png.bak"), "a longer key is another object")
	require.Equal(t, 1, b.versions(t, "420.png"))
}

func TestDeleteMoreThanOneBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	const perKey, keys = 340, 3 // 1020 versions: two list pages, two DeleteObjects
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := w; i < perKey*keys; i += 6 {
				b.put(t, fmt.Sprintf("users/42/k%d", i%keys), "x")
			}
		})
	}
	wg.Wait()
	b.put(t, "users/43/keep", "x")
	deletes := b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("delete"), Action: faultproxy.Pass()})
	lists := b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("versions"), Action: faultproxy.Pass()})

	removed, err := b.store.Delete(context.Background(), b.resolve(t, "s3://%s/users/{key}/", "42"))
	require.NoError(t, err)
	require.Equal(t, int64(perKey*keys), removed.Versions)
	require.Equal(t, 2, deletes.Hits(), "1020 versions take two DeleteObjects of at most 1000")
	require.GreaterOrEqual(t, lists.Hits(), 3, "two pages, then an empty confirming listing")
	require.Zero(t, b.versions(t, "users/42/"))
	require.Equal(t, 1, b.versions(t, "users/43/"))
}

func TestDeleteRetriesSlowDown(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	b.seedSubject(t)
	fault := b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("delete"), Times: 2, Action: faultproxy.SlowDown()})

	_, err := b.store.Delete(context.Background(), b.resolve(t, "s3://%s/users/{key}/", "42"))
	require.NoError(t, err)
	require.Equal(t, 2, fault.Hits())
	require.Zero(t, b.versions(t, "users/42/"))
}

func TestDeletePersistentErrorKeepsObjects(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	b.seedSubject(t)
	fault := b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("delete"), Action: faultproxy.InternalError()})

	removed, err := b.store.Delete(context.Background(), b.resolve(t, "s3://%s/users/{key}/", "42"))
	require.ErrorContains(t, err, "InternalError")
	require.NotContains(t, err.Error(), "users/42", "errors name the template, not the subject's key")
	require.Zero(t, removed)
	require.Equal(t, 4, fault.Hits(), "MaxAttempts bounds the retries")
	require.Equal(t, 6, b.versions(t, "users/42/"), "nothing may be reported gone")
}

func TestRetriesConnectionReset(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	b.seedSubject(t)
	listReset := b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("versions"), Times: 1, Action: faultproxy.Reset()})
	deleteReset := b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("delete"), Times: 2, Action: faultproxy.Reset()})

	_, err := b.store.Delete(context.Background(), b.resolve(t, "s3://%s/users/{key}/", "42"))
	require.NoError(t, err)
	require.Equal(t, 1, listReset.Hits())
	require.Equal(t, 2, deleteReset.Hits())
	require.Zero(t, b.versions(t, "users/42/"))
}

func TestRetriesSlowAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "users/42/a", "a")
	store, err := s3store.New(context.Background(), s3store.Config{
		Region: miniotest.Region, Endpoint: b.proxy.URL, ForcePathStyle: true,
		Credentials: miniotest.Start(t).Credentials(), MaxAttempts: 3,
		// As generous as setup's: only the attempt that gets no answer
		// at all reaches it, never a real request on a slow machine.
		MinBackoff: 10 * time.Millisecond, AttemptTimeout: 5 * time.Second,
	})
	require.NoError(t, err)
	// The first listing never gets an answer: only the attempt timeout
	// ends it, and the retry succeeds.
	slow := b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("versions"), Times: 1, Action: faultproxy.Delay(24 * time.Hour)})

	exists, err := objstore.Exists(context.Background(), store, b.resolve(t, "s3://%s/users/{key}/", "42"))
	require.NoError(t, err)
	require.True(t, exists)
	require.Equal(t, 1, slow.Hits())
}

func TestDeleteObjectLocked(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.ObjectLock())
	b.put(t, "users/42/held", "held")
	b.put(t, "users/42/free", "free")
	ctx := context.Background()
	_, err := b.direct.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{
		Bucket: aws.String(b.bucket), Key: aws.String("users/42/held"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn},
	})
	require.NoError(t, err)
	loc := b.resolve(t, "s3://%s/users/{key}/", "42")

	removed, err := b.store.Delete(ctx, loc)
	require.Error(t, err)
	require.ErrorIs(t, err, objstore.ErrObjectLocked)
	t.Log(err)
	require.ErrorContains(t, err, "1 versions not deleted")
	require.Equal(t, objstore.Removed{Versions: 1, Bytes: 4}, removed, "the free object went, the held one is not counted")
	exists, err := objstore.Exists(ctx, b.store, loc)
	require.NoError(t, err)
	require.True(t, exists)
	require.Equal(t, 1, b.versions(t, "users/42/"))

	_, err = b.direct.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{
		Bucket: aws.String(b.bucket), Key: aws.String("users/42/held"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff},
	})
	require.NoError(t, err)
	_, err = b.store.Delete(ctx, loc)
	require.NoError(t, err, "once the hold is lifted the next run succeeds")
	require.Zero(t, b.versions(t, "users/42/"))
}

func TestListPrefixes(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	b.put(t, "users/1/a", "aa")
	b.put(t, "users/1/a", "aaa")
	b.put(t, "users/1/sub/b", "b")
	b.put(t, "users/10/a", "x")
	b.deleteMarker(t, "users/10/a")
	b.put(t, "users/loose.txt", "l")
	b.put(t, "other/2/a", "no")
	loc, err := objstore.ParseLocation(fmt.Sprintf("s3://%s/users/{key}/", b.bucket))
	require.NoError(t, err)

	var got []objstore.PrefixSummary
	err = b.store.ListPrefixes(context.Background(), loc.Root(), "/", func(p objstore.PrefixSummary) error {
		require.False(t, p.LastModified.IsZero())
		p.LastModified = time.Time{}
		got = append(got, p)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []objstore.PrefixSummary{
		{Prefix: "users/1/", Versions: 3, Bytes: 6},
		{Prefix: "users/10/", Versions: 1, DeleteMarkers: 1, Bytes: 1},
		{Prefix: "users/loose.txt", Versions: 1, Bytes: 1},
	}, got)

	// A Root can be listed but never deleted.
	_, err = b.store.Delete(context.Background(), loc.Root())
	require.ErrorContains(t, err, "refusing to delete")
}

func TestListErrorIsReturned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.proxy.Inject(faultproxy.Fault{Action: faultproxy.Status(http.StatusForbidden, http.Header{"Content-Type": {"application/xml"}},
		`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>`)})
	_, err := objstore.Exists(context.Background(), b.store, b.resolve(t, "s3://%s/users/{key}/", "42"))
	require.ErrorContains(t, err, "AccessDenied")
}

// TestDeleteAccessDeniedOnLockedObject plays AWS's answer for a locked
// version (AccessDenied, no mention of a lock) in front of a real held
// object: the store must ask S3 and report the lock, and must not call a
// plain AccessDenied a lock.
func TestDeleteAccessDeniedOnLockedObject(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.ObjectLock())
	ctx := context.Background()
	held, err := b.direct.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String("users/42/held"), Body: strings.NewReader("h"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn,
	})
	require.NoError(t, err)
	free, err := b.direct.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String("users/43/free"), Body: strings.NewReader("f"),
	})
	require.NoError(t, err)
	denied := func(key, version string) faultproxy.Action {
		return faultproxy.Status(http.StatusOK, http.Header{"Content-Type": {"application/xml"}}, fmt.Sprintf(
			`<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`+
				`<Error><Key>%s</Key><VersionId>%s</VersionId><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`,
			key, version))
	}

	b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("delete"), Times: 1, Action: denied("users/42/held", aws.ToString(held.VersionId))})
	_, err = b.store.Delete(ctx, b.resolve(t, "s3://%s/users/{key}/", "42"))
	require.ErrorIs(t, err, objstore.ErrObjectLocked)

	b.proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("delete"), Times: 1, Action: denied("users/43/free", aws.ToString(free.VersionId))})
	_, err = b.store.Delete(ctx, b.resolve(t, "s3://%s/users/{key}/", "43"))
	require.ErrorContains(t, err, "AccessDenied")
	require.NotErrorIs(t, err, objstore.ErrObjectLocked)
	require.Equal(t, 1, b.versions(t, "users/43/"), "a refused delete must not count as done")
}
