package objstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Object is one stored version of an object, or a delete marker.
type Object struct {
	// Key is the object key (S3) or absolute file path (file). It is
	// personal data when the location's template puts a subject value in it.
	Key string
	// VersionID is the S3 version ID; "null" for objects written before
	// versioning was enabled, and empty for file objects.
	VersionID string
	// Size is the version's size in bytes; 0 for delete markers.
	Size int64
	// LastModified is when the version was written.
	LastModified time.Time
	// DeleteMarker is true for an S3 delete marker, which holds no data but
	// still has to be removed for nothing to remain.
	DeleteMarker bool
	// IsLatest is true for the current version of the key.
	IsLatest bool
}

// Removed counts what a delete removed.
type Removed struct {
	// Versions is the number of object versions removed, delete markers
	// excluded. For file locations it is the number of files.
	Versions int64
	// DeleteMarkers is the number of S3 delete markers removed.
	DeleteMarkers int64
	// Bytes is the total size of the removed versions.
	Bytes int64
}

// Add adds o's counts to r.
func (r *Removed) Add(o Removed) {
	r.Versions += o.Versions
	r.DeleteMarkers += o.DeleteMarkers
	r.Bytes += o.Bytes
}

// Store is where a subject's files live. Implementations: s3store.Store and
// filestore.Store; [Router] sends each location to the right one.
type Store interface {
	// List calls fn for every version and delete marker at loc, in key
	// order, a page at a time, so memory does not grow with the number of
	// objects. An error from fn stops the listing and is returned.
	List(ctx context.Context, loc Resolved, fn func(Object) error) error

	// Delete removes every version and delete marker at loc and returns
	// what it removed. A location that is already empty is not an error.
	// It returns an error unless everything at loc is gone, with Removed
	// counting what was removed before the failure. An object under S3
	// Object Lock retention or legal hold cannot be removed: the error then
	// wraps [ErrObjectLocked]. loc must pass [Resolved.CheckDeletable].
	Delete(ctx context.Context, loc Resolved) (Removed, error)
}

// PrefixLister enumerates the sub-prefixes under a root, for jobs that look
// for leftovers across all subjects.
type PrefixLister interface {
	// ListPrefixes calls fn once per group of objects under root.Key that
	// share the text up to and including the next delimiter: for root
	// "users/" and delimiter "/", once for "users/1/", once for
	// "users/2/", and so on, in key order. An object with no delimiter
	// after the root is a group of its own, named by its full key. Each
	// group counts every version, so its Bytes is what it costs to keep.
	// It lists all objects page by page and keeps only the current group
	// in memory.
	ListPrefixes(ctx context.Context, root Resolved, delimiter string, fn func(PrefixSummary) error) error
}

// PrefixSummary describes one group found by [PrefixLister.ListPrefixes].
type PrefixSummary struct {
	// Prefix is the group's key prefix, ending in the delimiter, or the
	// full key of a lone object.
	Prefix string
	// Versions is the number of versions in the group, delete markers
	// excluded.
	Versions int64
	// DeleteMarkers is the number of delete markers in the group.
	DeleteMarkers int64
	// Bytes is the total size of all versions in the group.
	Bytes int64
	// LastModified is the newest LastModified of any version or delete
	// marker in the group.
	LastModified time.Time
}

// ErrObjectLocked is wrapped by a delete error when S3 refused to remove a
// version because of Object Lock (retention or legal hold). The data is
// still there; only its owner lifting the lock, or the retention ending,
// lets it go.
var ErrObjectLocked = errors.New("object is locked (S3 Object Lock retention or legal hold)")

// errStop ends a listing early in [Exists].
var errStop = errors.New("stop")

// Exists reports whether anything at all remains at loc: any version or
// delete marker. The purge job calls it after commit to verify.
func Exists(ctx context.Context, s Store, loc Resolved) (bool, error) {
	found := false
	err := s.List(ctx, loc, func(Object) error {
		found = true
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, fmt.Errorf("check %s: %w", loc.Template, err)
	}
	return found, nil
}

// Usage counts everything at loc without removing it, as a [Removed] of
// what a delete would remove.
func Usage(ctx context.Context, s Store, loc Resolved) (Removed, error) {
	var u Removed
	err := s.List(ctx, loc, func(o Object) error {
		if o.DeleteMarker {
			u.DeleteMarkers++
		} else {
			u.Versions++
			u.Bytes += o.Size
		}
		return nil
	})
	if err != nil {
		return Removed{}, fmt.Errorf("usage of %s: %w", loc.Template, err)
	}
	return u, nil
}
