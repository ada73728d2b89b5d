package purge_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/lethe-project/lethe/internal/faultproxy"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/journal"
	"github.com/lethe-project/lethe/objstore/s3store"
	"github.com/lethe-project/lethe/purge"
	"github.com/stretchr/testify/require"
)

func (b *bundle) outbox(j *journal.Journal) *journal.Outbox {
	return &journal.Outbox{Pool: b.db.Pool, Journal: j, Retention: journal.DefaultRetention}
}

func journalHashes(t *testing.T, j *journal.Journal) []string {
	t.Helper()
	var hs []string
	require.NoError(t, j.Read(context.Background(), time.Time{}, func(e journal.Entry) error {
		hs = append(hs, e.SubjectHash)
		return nil
	}))
	sort.Strings(hs)
	return hs
}

func (b *bundle) receiptHashes(where string) []string {
	rows, err := b.db.Pool.Query(context.Background(), "SELECT subject_hash FROM lethe.receipts WHERE "+where+" ORDER BY 1")
	require.NoError(b.t, err)
	defer rows.Close()
	var hs []string
	for rows.Next() {
		var h string
		require.NoError(b.t, rows.Scan(&h))
		hs = append(hs, h)
	}
	require.NoError(b.t, rows.Err())
	return hs
}

func TestJournalHoldsEveryCommittedBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	names := []string{"jana", "jonas", "jule"}
	for _, n := range names {
		b.addUser(n, "45 days", false, "")
	}
	dir := t.TempDir()
	j, err := journal.Open(context.Background(), "file://"+dir, nil)
	require.NoError(t, err)

	r, code := b.run(func(o *options) { o.Journal, o.BatchSize, o.Workers, o.AllowLarge = b.outbox(j), 2, 1, true })
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 3, r.Counter("receipts_journaled"))
	require.Zero(t, r.Gauges[string(jobs.UnjournaledReceipts)])

	require.Empty(t, b.receiptHashes("journaled_at IS NULL"))
	require.Equal(t, b.receiptHashes("true"), journalHashes(t, j))
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, 2, "one object per committed batch (batches of 2)")
	// Nothing of the subjects but their keyed hashes: no key, no email, no name.
	for _, f := range files {
		body, err := os.ReadFile(filepath.Join(dir, f.Name()))
		require.NoError(t, err)
		for _, n := range names {
			require.NotContains(t, string(body), uuidOf(n))
			require.NotContains(t, strings.ToLower(string(body)), n)
		}
		require.NotContains(t, string(body), hashKey)
	}
}

func TestJournalOutageIsCaughtUpByTheNextRun(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	first := b.addUser("olga", "45 days", false, "")
	b.addUser("oskar", "45 days", false, "")
	srv := miniotest.Start(t)
	proxy := faultproxy.Start(t, srv.Endpoint)
	bucket := srv.CreateBucket(t)
	j, err := journal.Open(context.Background(), "s3://"+bucket+"/journal/", func(ctx context.Context) (*s3.Client, error) {
		return s3store.NewClient(ctx, s3store.Config{Region: miniotest.Region, Endpoint: proxy.URL, ForcePathStyle: true,
			Credentials: srv.Credentials(), MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	})
	require.NoError(t, err)
	withJournal := func(o *options) { o.Journal, o.AllowLarge = b.outbox(j), true }

	down := proxy.Inject(faultproxy.Fault{Action: faultproxy.SlowDown()})
	r, code := b.run(withJournal)
	require.Equal(t, jobs.ExitFailed, code, "the journal is down: the run fails")
	require.Positive(t, down.Hits())
	require.Empty(t, nonzero(b.footprint(first)), "the erasure itself committed")
	require.Len(t, b.receiptHashes("journaled_at IS NULL"), 2, "its receipts wait in the outbox")
	require.EqualValues(t, 2, r.Gauges[string(jobs.UnjournaledReceipts)])

	proxy.Clear()
	b.addUser("otto", "45 days", false, "")
	r, code = b.run(withJournal)
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 3, r.Counter("receipts_journaled"))
	require.Empty(t, b.receiptHashes("journaled_at IS NULL"))
	require.Equal(t, b.receiptHashes("true"), journalHashes(t, j))
	require.Zero(t, r.Gauges[string(jobs.UnjournaledReceipts)])
}

// TestPurgeAppliesTheJournalRetention: objects older than the retention
// go, younger ones stay.
func TestPurgeAppliesTheJournalRetention(t *testing.T) {
	t.Parallel()
	b := setup(t, exampleSchema, examplePolicy)
	b.addUser("rita", "45 days", false, "")
	dir := t.TempDir()
	now := time.Now().UTC()
	old := now.Add(-401*24*time.Hour).Format("20060102T150405.000000000Z") + "-000000000000.jsonl"
	young := now.Add(-399*24*time.Hour).Format("20060102T150405.000000000Z") + "-000000000000.jsonl"
	for _, n := range []string{old, young} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o600))
	}
	j, err := journal.Open(context.Background(), "file://"+dir, nil)
	require.NoError(t, err)
	r, code := b.run(func(o *options) { o.Journal, o.AllowLarge = b.outbox(j), true })
	require.Equal(t, jobs.ExitOK, code)
	require.EqualValues(t, 1, r.Counter(purge.JournalObjectsPruned))
	require.NoFileExists(t, filepath.Join(dir, old))
	require.FileExists(t, filepath.Join(dir, young))
	require.Len(t, journalHashes(t, j), 1, "and the run's own object")
}
