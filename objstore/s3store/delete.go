package s3store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lethe-project/lethe/objstore"
)

// maxDeleteBatch is the most keys one DeleteObjects request takes.
const maxDeleteBatch = 1000

// maxDeletePasses bounds how often Delete lists the location again to find
// versions written while it was deleting.
const maxDeletePasses = 3

// Delete removes every version and delete marker at loc with DeleteObjects,
// 1000 at a time, each with its VersionId so no new delete markers are made.
// It then lists loc again and repeats until a listing finds nothing, so a
// nil error means the location was seen empty. Object Lock is never
// bypassed: a locked version makes the error wrap [objstore.ErrObjectLocked].
func (s *Store) Delete(ctx context.Context, loc objstore.Resolved) (objstore.Removed, error) {
	var total objstore.Removed
	if err := loc.CheckDeletable(); err != nil {
		return total, err
	}
	if err := checkS3(loc); err != nil {
		return total, err
	}
	for range maxDeletePasses {
		removed, seen, err := s.deletePass(ctx, loc)
		total.Add(removed)
		if err != nil {
			return total, fmt.Errorf("delete %s: %w", loc.Template, err)
		}
		if seen == 0 {
			return total, nil
		}
	}
	return total, fmt.Errorf("delete %s: new versions kept appearing after %d passes", loc.Template, maxDeletePasses)
}

// deletePass lists loc once and deletes what it lists. It returns how many
// versions it saw. Per-key failures do not stop the pass; a failed request
// (after the SDK's retries) does.
func (s *Store) deletePass(ctx context.Context, loc objstore.Resolved) (objstore.Removed, int, error) {
	var (
		removed objstore.Removed
		seen    int
		failed  *DeleteError
		batch   = newDeleteBatch(loc.Bucket)
	)
	flush := func() error {
		r, ferr := s.deleteBatch(ctx, batch)
		removed.Add(r)
		batch.reset()
		var de *DeleteError
		if errors.As(ferr, &de) {
			failed = failed.merge(de)
			return nil
		}
		return ferr
	}
	err := s.listVersions(ctx, loc.Bucket, loc.Key, func(o objstore.Object) error {
		if !loc.Contains(o.Key) {
			return nil
		}
		seen++
		batch.add(o)
		if batch.len() == maxDeleteBatch {
			return flush()
		}
		return nil
	})
	if err == nil && batch.len() > 0 {
		err = flush()
	}
	if err != nil {
		return removed, seen, err
	}
	if failed != nil {
		return removed, seen, failed
	}
	return removed, seen, nil
}

// deleteBatch sends one DeleteObjects request and turns per-key Errors into
// a *DeleteError. Removed counts only the versions that went.
func (s *Store) deleteBatch(ctx context.Context, b *deleteBatch) (objstore.Removed, error) {
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(b.bucket),
		Delete: &types.Delete{Objects: b.ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return objstore.Removed{}, err
	}
	removed := b.total
	if len(out.Errors) == 0 {
		return removed, nil
	}
	de := &DeleteError{Failed: len(out.Errors)}
	for i, e := range out.Errors {
		id := versionKey(aws.ToString(e.Key), aws.ToString(e.VersionId))
		if o, ok := b.objects[id]; ok {
			if o.DeleteMarker {
				removed.DeleteMarkers--
			} else {
				removed.Versions--
				removed.Bytes -= o.Size
			}
		}
		if i == 0 {
			de.Code, de.Message = aws.ToString(e.Code), aws.ToString(e.Message)
			de.Locked = lockedMessage(de.Code, de.Message) ||
				(de.Code == "AccessDenied" && s.isLocked(ctx, b.bucket, aws.ToString(e.Key), aws.ToString(e.VersionId)))
		}
	}
	return removed, de
}

// lockedMessage reports whether an error names Object Lock. AWS answers
// AccessDenied with a message about object lock; MinIO speaks of WORM.
func lockedMessage(code, msg string) bool {
	m := strings.ToLower(code + " " + msg)
	for _, w := range []string{"lock", "worm", "retention", "legal hold"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// isLocked asks whether a version is under legal hold or unexpired
// retention, to tell a lock from a missing permission after AccessDenied.
// If it cannot tell, it says no.
func (s *Store) isLocked(ctx context.Context, bucket, key, versionID string) bool {
	in := &s3.GetObjectLegalHoldInput{Bucket: &bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	if out, err := s.client.GetObjectLegalHold(ctx, in); err == nil &&
		out.LegalHold != nil && out.LegalHold.Status == types.ObjectLockLegalHoldStatusOn {
		return true
	}
	rin := &s3.GetObjectRetentionInput{Bucket: &bucket, Key: &key, VersionId: in.VersionId}
	if out, err := s.client.GetObjectRetention(ctx, rin); err == nil &&
		out.Retention != nil && aws.ToTime(out.Retention.RetainUntilDate).After(time.Now()) {
		return true
	}
	return false
}

// DeleteError says that S3 refused to delete some versions in a
// DeleteObjects answer. It names no keys, which may hold personal data.
type DeleteError struct {
	// Failed is the number of versions and delete markers not deleted.
	Failed int
	// Code and Message are those of the first failure.
	Code, Message string
	// Locked is true when the first failure is due to Object Lock.
	Locked bool
}

// Error describes the failures without naming keys.
func (e *DeleteError) Error() string {
	msg := fmt.Sprintf("%d versions not deleted, first: %s: %s", e.Failed, e.Code, e.Message)
	if e.Locked {
		msg += ": " + objstore.ErrObjectLocked.Error()
	}
	return msg
}

// Unwrap returns [objstore.ErrObjectLocked] when Locked is set.
func (e *DeleteError) Unwrap() error {
	if e.Locked {
		return objstore.ErrObjectLocked
	}
	return nil
}

// merge adds o's failures to e, keeping e's first failure.
func (e *DeleteError) merge(o *DeleteError) *DeleteError {
	if e == nil {
		c := *o
		return &c
	}
	e.Failed += o.Failed
	return e
}

// deleteBatch collects up to maxDeleteBatch versions for one request.
type deleteBatch struct {
	bucket  string
	ids     []types.ObjectIdentifier
	objects map[string]objstore.Object
	total   objstore.Removed
}

func newDeleteBatch(bucket string) *deleteBatch {
	return &deleteBatch{bucket: bucket, objects: make(map[string]objstore.Object, maxDeleteBatch)}
}

func (b *deleteBatch) add(o objstore.Object) {
	id := types.ObjectIdentifier{Key: aws.String(o.Key)}
	if o.VersionID != "" {
		id.VersionId = aws.String(o.VersionID)
	}
	b.ids = append(b.ids, id)
	b.objects[versionKey(o.Key, o.VersionID)] = o
	if o.DeleteMarker {
		b.total.DeleteMarkers++
	} else {
		b.total.Versions++
		b.total.Bytes += o.Size
	}
}

func (b *deleteBatch) len() int { return len(b.ids) }

func (b *deleteBatch) reset() {
	b.ids = b.ids[:0]
	clear(b.objects)
	b.total = objstore.Removed{}
}

func versionKey(key, versionID string) string { return key + "\x00" + versionID }
