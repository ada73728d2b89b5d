package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lethe-project/lethe/objstore"
)

// Store is an [objstore.Store] and [objstore.PrefixLister] over S3 or an
// S3-compatible server.
type Store struct {
	client *s3.Client
}

var (
	_ objstore.Store        = (*Store)(nil)
	_ objstore.PrefixLister = (*Store)(nil)
)

// New returns a Store with a client built by [NewClient].
func New(ctx context.Context, cfg Config) (*Store, error) {
	client, err := NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Store{client: client}, nil
}

// NewWithClient returns a Store that uses client as it is.
func NewWithClient(client *s3.Client) *Store { return &Store{client: client} }

// Client returns the S3 client the store uses.
func (s *Store) Client() *s3.Client { return s.client }

// List calls fn for every version and delete marker at loc, in key order.
// It uses ListObjectVersions, which also answers for unversioned buckets.
func (s *Store) List(ctx context.Context, loc objstore.Resolved, fn func(objstore.Object) error) error {
	if err := checkS3(loc); err != nil {
		return err
	}
	err := s.listVersions(ctx, loc.Bucket, loc.Key, func(o objstore.Object) error {
		if !loc.Contains(o.Key) {
			return nil // a longer key that merely starts with a single object's key
		}
		return fn(o)
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", loc.Template, err)
	}
	return nil
}

// ListPrefixes groups every version under root.Key by the text up to the
// next delimiter; see [objstore.PrefixLister].
func (s *Store) ListPrefixes(ctx context.Context, root objstore.Resolved, delimiter string, fn func(objstore.PrefixSummary) error) error {
	if err := checkS3(root); err != nil {
		return err
	}
	g := objstore.PrefixGrouper{Root: root.Key, Delimiter: delimiter, Emit: fn}
	if err := s.listVersions(ctx, root.Bucket, root.Key, g.Add); err != nil {
		return fmt.Errorf("list prefixes of %s: %w", root.Template, err)
	}
	return g.Flush()
}

func checkS3(loc objstore.Resolved) error {
	if loc.Scheme != objstore.SchemeS3 || loc.Bucket == "" {
		return fmt.Errorf("location %s: not an s3 location", loc.Template)
	}
	return nil
}

// listVersions pages through ListObjectVersions under prefix and calls fn
// for versions and delete markers merged into key order. Only one page is
// held in memory.
func (s *Store) listVersions(ctx context.Context, bucket, prefix string, fn func(objstore.Object) error) error {
	p := s3.NewListObjectVersionsPaginator(s.client, &s3.ListObjectVersionsInput{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		vs, dms := page.Versions, page.DeleteMarkers
		for len(vs) > 0 || len(dms) > 0 {
			var o objstore.Object
			if len(dms) == 0 || (len(vs) > 0 && aws.ToString(vs[0].Key) <= aws.ToString(dms[0].Key)) {
				o = versionObject(vs[0])
				vs = vs[1:]
			} else {
				o = markerObject(dms[0])
				dms = dms[1:]
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func versionObject(v types.ObjectVersion) objstore.Object {
	return objstore.Object{
		Key:          aws.ToString(v.Key),
		VersionID:    aws.ToString(v.VersionId),
		Size:         aws.ToInt64(v.Size),
		LastModified: aws.ToTime(v.LastModified),
		IsLatest:     aws.ToBool(v.IsLatest),
	}
}

func markerObject(m types.DeleteMarkerEntry) objstore.Object {
	return objstore.Object{
		Key:          aws.ToString(m.Key),
		VersionID:    aws.ToString(m.VersionId),
		LastModified: aws.ToTime(m.LastModified),
		IsLatest:     aws.ToBool(m.IsLatest),
		DeleteMarker: true,
	}
}

// Open returns the current version of the object at key; see
// [objstore.Opener].
func (s *Store) Open(ctx context.Context, loc objstore.Resolved, key string) (io.ReadCloser, error) {
	if err := checkS3(loc); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(key)})
	var nf *types.NoSuchKey
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("read an object of %s: %w", loc.Template, objstore.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read an object of %s: %w", loc.Template, err)
	}
	return out.Body, nil
}
