package outside_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/lethe-project/lethe/internal/faultproxy"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/ledger"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/processors"
	"github.com/lethe-project/lethe/purge"
)

func TestErasesObjectsEverywhereAndCallsProcessors(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	gone := b.addUser("gone", "45 days")
	b.addUser("neighbour", "")

	code, _ := b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, state{}, b.state("gone"), "rows, every version and delete marker, the upload and the directory are gone")
	require.Equal(t, seeded, b.state("neighbour"), "the neighbour's prefix, upload and directory are intact")

	keys, paths := b.proc.seen()
	require.Equal(t, []string{"/v1/users/" + gone.id}, paths)
	require.Equal(t, []string{processors.IdempotencyKey(gone.hash, "crm")}, keys)

	r := b.receipt(gone)
	require.Equal(t, "passed", r.Verification)
	require.Equal(t, []string{"crm"}, r.Processors)
	require.ElementsMatch(t, []ledger.ObjectCount{
		{Location: "s3://" + b.bucket + "/users/{key}/", Objects: 6, Bytes: 2 + 3 + 4 + 4 + 1},
		{Location: "s3://" + b.bucket + "/uploads/{storage_key}", Objects: 1, Bytes: 4},
		{Location: "file://" + b.dir + "/{key}/", Objects: 1, Bytes: 4},
	}, r.Objects)
	for _, o := range r.Objects {
		require.NotContains(t, o.Location, gone.id, "receipts name templates, never keys")
	}
}

// TestFaultsKeepRows injects each kind of fault in front of MinIO or the
// processor: the subject's rows must all stay while anything outside is
// outstanding, another subject goes ahead where the fault is only its
// neighbour's, and once the fault stops the next run finishes.
func TestFaultsKeepRows(t *testing.T) {
	t.Parallel()
	s3Prefix := func(id string) func(*http.Request) bool {
		return func(r *http.Request) bool { return strings.Contains(r.URL.Query().Get("prefix"), id) }
	}
	cases := []struct {
		name   string
		inject func(b *bundle, victim user)
	}{
		{"s3 500 on delete", func(b *bundle, _ user) {
			b.s3proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("delete"), Action: faultproxy.InternalError()})
		}},
		{"s3 503 SlowDown on listing", func(b *bundle, _ user) {
			b.s3proxy.Inject(faultproxy.Fault{Match: faultproxy.HasQuery("versions"), Action: faultproxy.SlowDown()})
		}},
		{"s3 connection reset", func(b *bundle, _ user) {
			b.s3proxy.Inject(faultproxy.Fault{Action: faultproxy.Reset()})
		}},
		{"s3 slow answers", func(b *bundle, _ user) {
			b.s3proxy.Inject(faultproxy.Fault{Action: faultproxy.Delay(5 * time.Second)})
		}},
		{"s3 fault for one subject only", func(b *bundle, victim user) {
			b.s3proxy.Inject(faultproxy.Fault{Match: s3Prefix(victim.id), Action: faultproxy.InternalError()})
		}},
		{"processor 500", func(b *bundle, _ user) {
			b.pproxy.Inject(faultproxy.Fault{Action: faultproxy.Status(500, nil, "boom")})
		}},
		{"processor 503 for one subject only", func(b *bundle, victim user) {
			b.pproxy.Inject(faultproxy.Fault{Match: faultproxy.PathPrefix("/v1/users/" + victim.id), Action: faultproxy.Status(503, nil, "")})
		}},
		{"processor connection reset", func(b *bundle, _ user) {
			b.pproxy.Inject(faultproxy.Fault{Action: faultproxy.Reset()})
		}},
		{"processor slow", func(b *bundle, _ user) {
			b.pproxy.Inject(faultproxy.Fault{Action: faultproxy.Delay(5 * time.Second)})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, miniotest.Versioned())
			victim := b.addUser("victim", "45 days")
			other := b.addUser("other", "40 days")
			tc.inject(b, victim)
			only := strings.Contains(tc.name, "one subject")

			code, err := b.run()
			require.Equal(t, jobs.ExitFailed, code)
			require.Error(t, err)
			v := b.state("victim")
			require.Equal(t, 1, v.Users, "the subject row stays while its outside data is outstanding")
			require.Equal(t, 1, v.Sessions)
			require.Equal(t, 1, v.Uploads, "the rows that name objects stay, so the next run finds them")
			if only {
				require.Equal(t, state{}, b.state("other"), "a subject whose data is all gone goes ahead")
				require.Equal(t, "passed", b.receipt(other).Verification)
			} else {
				o := b.state("other")
				require.Equal(t, []int{1, 1, 1}, []int{o.Users, o.Sessions, o.Uploads})
			}

			b.s3proxy.Clear()
			b.pproxy.Clear()
			code, _ = b.run()
			require.Equal(t, jobs.ExitOK, code, "once the faults stop the next run completes")
			require.Equal(t, state{}, b.state("victim"))
			require.Equal(t, state{}, b.state("other"))
			require.Equal(t, "passed", b.receipt(victim).Verification)
			require.Equal(t, []string{"crm"}, b.receipt(victim).Processors)
		})
	}
}

func TestProcessorNotFoundIsDoneAndRetriesKeepTheKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.addUser("gone", "45 days")
	b.proc.status = http.StatusNotFound
	// The first run's three attempts fail; the second run's first attempt
	// fails too, then the processor answers 404: already gone.
	fault := b.pproxy.Inject(faultproxy.Fault{Times: 4, Action: faultproxy.Status(500, nil, "")})

	code, _ := b.run()
	require.Equal(t, jobs.ExitFailed, code)
	require.Equal(t, 1, b.state("gone").Users)
	code, _ = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, 4, fault.Hits())
	require.Equal(t, state{}, b.state("gone"))
	require.Equal(t, []string{"crm"}, b.receipt(u).Processors, "404 counts as done")

	keys, _ := b.proc.seen()
	require.Len(t, keys, 1, "the proxy answered the failed attempts")
	require.Equal(t, processors.IdempotencyKey(u.hash, "crm"), keys[0])
	require.NotContains(t, keys[0], u.id)
}

// TestIdempotencyKeyOnEveryAttempt records the key of every attempt at the
// proxy, failed ones included.
func TestIdempotencyKeyOnEveryAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.addUser("gone", "45 days")
	var keys []string // the proxy calls Match under its lock, one request at a time
	record := func(r *http.Request) bool { keys = append(keys, r.Header.Get("Idempotency-Key")); return false }
	b.pproxy.Inject(faultproxy.Fault{Match: record})
	b.pproxy.Inject(faultproxy.Fault{Times: 4, Action: faultproxy.Status(502, nil, "")})

	code, _ := b.run()
	require.Equal(t, jobs.ExitFailed, code)
	code, _ = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Len(t, keys, 5, "3 attempts in the first run, 2 in the second")
	for _, k := range keys {
		require.Equal(t, processors.IdempotencyKey(u.hash, "crm"), k)
	}
}

// TestVerifyCatchesLeftover: the processor's handler writes an object under
// the subject's prefix while the batch runs, after the objects were
// removed, as an application still uploading would. The rows go (everything
// was confirmed at the time), but verification lists the prefix again,
// finds it, and the receipt says so.
func TestVerifyCatchesLeftover(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	u := b.addUser("gone", "45 days")
	b.proc.onCall = func(*http.Request) { b.put("users/"+u.id+"/late.png", "late") }

	code, err := b.run()
	require.Equal(t, jobs.ExitFailed, code)
	var ve *purge.VerificationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, 0, b.state("gone").Users)
	require.Equal(t, 1, b.versions("users/"+u.id+"/"))
	r := b.receipt(u)
	require.True(t, strings.HasPrefix(r.Verification, "failed: "), r.Verification)
	require.Contains(t, r.Verification, "objects remain at s3://"+b.bucket+"/users/{key}/")
	require.NotContains(t, r.Verification, u.id)
}

func TestMissingEnvIsConfigError(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	b.addUser("gone", "45 days")
	before := b.db.Snapshot(t, "public", "billing")
	delete(b.env, "CRM_TOKEN")

	_, err := b.erasers()
	require.Equal(t, jobs.ExitConfig, jobs.ExitCode(err))
	require.ErrorContains(t, err, "CRM_TOKEN is not set")
	require.Equal(t, before, b.db.Snapshot(t, "public", "billing"), "nothing changed")
	require.Equal(t, seeded, b.state("gone"))
	require.Zero(t, b.pproxy.Requests())
	require.Zero(t, b.s3proxy.Requests())
}

func TestObjectLockKeepsRows(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.ObjectLock())
	u := b.addUser("gone", "45 days")
	ctx := context.Background()
	hold := func(status types.ObjectLockLegalHoldStatus) {
		_, err := b.direct.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{
			Bucket: aws.String(b.bucket), Key: aws.String("users/" + u.id + "/sub/c"),
			LegalHold: &types.ObjectLockLegalHold{Status: status},
		})
		require.NoError(t, err)
	}
	hold(types.ObjectLockLegalHoldStatusOn)

	code, err := b.run()
	require.Equal(t, jobs.ExitFailed, code)
	require.ErrorContains(t, err, objstore.ErrObjectLocked.Error())
	s := b.state("gone")
	require.Equal(t, []int{1, 1, 1}, []int{s.Users, s.Sessions, s.Uploads}, "a locked object keeps the subject's rows")
	require.Equal(t, 1, s.Prefix, "everything but the held version went")

	hold(types.ObjectLockLegalHoldStatusOff)
	code, _ = b.run()
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, state{}, b.state("gone"))
}

func TestDryRunCountsAndChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	b.addUser("gone", "45 days")
	before := b.db.Snapshot(t, "public", "billing")

	code, _ := b.run(func(l *jobs.Limits) { l.DryRun = true })
	require.Equal(t, jobs.ExitOK, code)
	require.Equal(t, before, b.db.Snapshot(t, "public", "billing"))
	require.Equal(t, seeded, b.state("gone"))
	require.Zero(t, b.pproxy.Requests(), "no processor is called")
	logs := b.logs.String()
	require.Contains(t, logs, `location=s3://`+b.bucket+`/users/{key}/ subjects=1 objects=6 bytes=14`)
	require.Contains(t, logs, `location=s3://`+b.bucket+`/uploads/{storage_key} subjects=1 objects=1 bytes=4`)
	require.Contains(t, logs, `msg="dry run: processor a run would call" processor=crm subjects=1`)
}

// TestStoredKeysAreChecked: a key stored in a row is an object key that may
// hold "/", a value ending in "/" names a prefix, and a key that would climb
// out of the template's fixed part keeps the subject's rows.
func TestStoredKeysAreChecked(t *testing.T) {
	t.Parallel()
	b := setup(t, miniotest.Versioned())
	good := b.addUser("good", "45 days")
	b.db.Exec(t, `INSERT INTO uploads (user_id, storage_key) VALUES ($1, 'good/folder/')`, good.id)
	b.put("uploads/good/folder/one", "1")
	b.put("uploads/good/folder/two", "22")
	b.put("uploads/good/folder-neighbour", "n")
	bad := b.addUser("bad", "40 days")
	b.db.Exec(t, `INSERT INTO uploads (user_id, storage_key) VALUES ($1, '../escape')`, bad.id)
	b.put("escape", "outside the prefix")

	code, err := b.run()
	require.Equal(t, jobs.ExitFailed, code)
	require.ErrorContains(t, err, "not a safe object key")
	require.NotContains(t, err.Error(), "escape")
	require.Equal(t, state{Upload: 1}, b.state("good"), "only the neighbour of the stored prefix is left")
	require.Zero(t, b.versions("uploads/good/folder/"))
	require.Equal(t, 1, b.versions("uploads/good/folder-neighbour"))
	require.Equal(t, []int{1, 2}, []int{b.state("bad").Users, b.state("bad").Uploads}, "the subject with an unsafe key keeps its rows")
	require.Equal(t, 1, b.versions("escape"))
	var objs int64
	for _, o := range b.receipt(good).Objects {
		if o.Location == "s3://"+b.bucket+"/uploads/{storage_key}" {
			objs = o.Objects
		}
	}
	require.Equal(t, int64(3), objs, "doc.pdf and the two objects under the stored prefix")
}
