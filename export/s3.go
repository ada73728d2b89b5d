package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3API is what an s3:// destination needs of an S3 client: a multipart
// upload, which makes the object appear only when it completes, or for an
// archive smaller than one part a single PutObject, which does too.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// partSize is the size of each uploaded part: the memory an s3://
// destination holds, and with S3's 10,000 parts, archives up to 80 GiB.
const partSize = 8 << 20

// ParseS3 splits s3://bucket/prefix/ into bucket and key prefix; the
// prefix, when given, must end with a slash.
func ParseS3(url string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(url, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URL", url)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", url)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return "", "", fmt.Errorf("%q: the prefix must end with /, the archive is named after the subject's hash", url)
	}
	return bucket, prefix, nil
}

// s3Output uploads an archive in parts; nothing is at the key until
// publish completes the upload, and discard aborts it. The upload starts
// with the first full part: an archive smaller than a part is sent whole
// by publish in one request.
type s3Output struct {
	ctx         context.Context
	api         S3API
	bucket, key string
	uploadID    *string
	buf         []byte
	parts       []types.CompletedPart
}

func openS3(ctx context.Context, api S3API, bucket, key string) (*s3Output, error) {
	return &s3Output{ctx: ctx, api: api, bucket: bucket, key: key, buf: make([]byte, 0, 64<<10)}, nil
}

// start begins the multipart upload.
func (o *s3Output) start() error {
	out, err := o.api.CreateMultipartUpload(o.ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(o.bucket), Key: aws.String(o.key), ContentType: aws.String("application/zip"),
	})
	if err != nil {
		return fmt.Errorf("start archive upload: %w", err)
	}
	o.uploadID = out.UploadId
	return nil
}

func (o *s3Output) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), partSize-len(o.buf))
		o.buf = append(o.buf, p[:k]...)
		p = p[k:]
		if len(o.buf) == partSize {
			if err := o.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (o *s3Output) flush() error {
	if o.uploadID == nil {
		if err := o.start(); err != nil {
			return err
		}
	}
	num := int32(len(o.parts) + 1)
	out, err := o.api.UploadPart(o.ctx, &s3.UploadPartInput{
		Bucket: aws.String(o.bucket), Key: aws.String(o.key), UploadId: o.uploadID,
		PartNumber: aws.Int32(num), Body: bytes.NewReader(o.buf),
	})
	if err != nil {
		return fmt.Errorf("upload archive part %d: %w", num, err)
	}
	o.parts = append(o.parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag,
		ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C, ChecksumSHA1: out.ChecksumSHA1,
		ChecksumSHA256: out.ChecksumSHA256, ChecksumCRC64NVME: out.ChecksumCRC64NVME})
	o.buf = o.buf[:0]
	return nil
}

func (o *s3Output) publish() error {
	if o.uploadID == nil {
		_, err := o.api.PutObject(o.ctx, &s3.PutObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key),
			Body: bytes.NewReader(o.buf), ContentLength: aws.Int64(int64(len(o.buf))), ContentType: aws.String("application/zip")})
		if err != nil {
			return fmt.Errorf("publish archive: %w", err)
		}
		return nil
	}
	if len(o.buf) > 0 || len(o.parts) == 0 {
		if err := o.flush(); err != nil {
			return err
		}
	}
	_, err := o.api.CompleteMultipartUpload(o.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(o.bucket), Key: aws.String(o.key), UploadId: o.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: o.parts},
	})
	if err != nil {
		return fmt.Errorf("publish archive: %w", err)
	}
	return nil
}

func (o *s3Output) discard() {
	if o.uploadID == nil {
		return
	}
	_, _ = o.api.AbortMultipartUpload(context.WithoutCancel(o.ctx), &s3.AbortMultipartUploadInput{
		Bucket: aws.String(o.bucket), Key: aws.String(o.key), UploadId: o.uploadID,
	})
}

var errNoS3 = errors.New("export: an s3:// destination needs an S3 client")
