package journal

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// store holds the journal's objects by name. Names sort by the time they
// were written.
type store interface {
	// put writes a new object and returns once it is durable.
	put(ctx context.Context, name string, body []byte) error
	// list calls fn with the names after startAfter, in name order.
	list(ctx context.Context, startAfter string, fn func(name string) error) error
	get(ctx context.Context, name string) ([]byte, error)
	remove(ctx context.Context, name string) error
}

// objectSuffix ends every journal object's name; anything else under the
// prefix is not the journal's and is ignored.
const objectSuffix = ".jsonl"

// fileStore is a journal in a local directory.
type fileStore struct{ dir string }

func (f fileStore) put(_ context.Context, name string, body []byte) error {
	if err := os.MkdirAll(f.dir, 0o750); err != nil {
		return fmt.Errorf("journal directory: %w", err)
	}
	tmp := filepath.Join(f.dir, "."+name+".tmp")
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	_, err = fh.Write(body)
	err = errors.Join(err, fh.Sync(), fh.Close())
	if err == nil {
		// A hard link fails when the name exists: an object is never
		// replaced.
		err = os.Link(tmp, filepath.Join(f.dir, name))
	}
	err = errors.Join(err, os.Remove(tmp))
	if err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	d, err := os.Open(f.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync directory: %w", err)
	}
	return nil
}

func (f fileStore) list(ctx context.Context, startAfter string, fn func(string) error) error {
	ents, err := os.ReadDir(f.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: list: %w", err)
	}
	for _, e := range ents { // ReadDir sorts by name
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, objectSuffix) || n <= startAfter || !e.Type().IsRegular() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

func (f fileStore) get(_ context.Context, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		return nil, fmt.Errorf("journal: read %s: %w", name, err)
	}
	return b, nil
}

func (f fileStore) remove(_ context.Context, name string) error {
	if err := os.Remove(filepath.Join(f.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("journal: remove %s: %w", name, err)
	}
	return nil
}

// s3Store is a journal under a bucket's prefix. Names are relative to the
// prefix.
type s3Store struct {
	client         *s3.Client
	bucket, prefix string
}

func (s s3Store) put(ctx context.Context, name string, body []byte) error {
	// Content-MD5: S3 requires an integrity header to write into an Object
	// Lock bucket with a default retention, and every S3-compatible store
	// knows this one.
	sum := md5.Sum(body)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + name),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ContentType: aws.String("application/x-ndjson"), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	return nil
}

func (s s3Store) list(ctx context.Context, startAfter string, fn func(string) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix)}
	if startAfter != "" {
		in.StartAfter = aws.String(s.prefix + startAfter)
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("journal: list: %w", err)
		}
		for _, o := range page.Contents {
			n := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if strings.Contains(n, "/") || !strings.HasSuffix(n, objectSuffix) {
				continue
			}
			if err := fn(n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s s3Store) get(ctx context.Context, name string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + name)})
	if err != nil {
		return nil, fmt.Errorf("journal: read %s: %w", name, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("journal: read %s: %w", name, err)
	}
	return b, nil
}

func (s s3Store) remove(ctx context.Context, name string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + name)})
	if err != nil {
		return fmt.Errorf("journal: remove %s: %w", name, err)
	}
	return nil
}
