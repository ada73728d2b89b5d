package grants_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/lethe-project/lethe/internal/jobtest"
	"github.com/lethe-project/lethe/internal/miniotest"
	"github.com/stretchr/testify/require"
)

// The IAM policy lethe grants prints is enough for the purge to remove a
// subject's object versions, and nothing outside the policy's prefixes is
// within reach: MinIO enforces it as the session policy of temporary
// credentials.
func TestIAMPolicyIsEnoughAndNoMore(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	b := setup(t)
	bucket := srv.CreateBucket(t, miniotest.Versioned())
	env := b.editPolicy("  - location: \"file://"+b.uploads+"/{key}/\"", "  - location: \"s3://"+bucket+"/users/{key}/\"")
	ctx := context.Background()
	root := srv.Client()
	put := func(key string) {
		_, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader("x")})
		require.NoError(t, err)
	}
	doomed := "users/" + jobtest.MD5UUID("user20") + "/a.png"
	put(doomed)
	put(doomed)
	put("users/" + jobtest.MD5UUID("user1") + "/a.png")
	put("billing/export.csv")

	r := b.lethe(env, "grants", "--format", "iam")
	require.Equal(t, 0, r.Code, r.Stderr)
	b.applyGrantsWith(env)

	stsc := sts.New(sts.Options{Region: miniotest.Region, BaseEndpoint: aws.String(srv.Endpoint), Credentials: srv.Credentials()})
	out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:xxx:xxx:xxx:xxxx"), RoleSessionName: aws.String("lethe"), Policy: aws.String(r.Stdout),
	})
	require.NoError(t, err)
	c := out.Credentials

	run := b.lethe(append(b.asRoleWith(env), "AWS_ACCESS_KEY_ID="+*c.AccessKeyId, "AWS_SECRET_ACCESS_KEY="+*c.SecretAccessKey,
		"AWS_SESSION_TOKEN="+*c.SessionToken, "AWS_REGION="+miniotest.Region,
		"LETHE_S3_ENDPOINT="+srv.Endpoint, "LETHE_S3_PATH_STYLE=true"), "--job", "purge")
	require.Equal(t, 0, run.Code, run.Stderr)
	vs, err := root.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: aws.String("users/" + jobtest.MD5UUID("user20"))})
	require.NoError(t, err)
	require.Empty(t, vs.Versions, "the purge removed every version of the subject's objects")

	limited := s3.New(s3.Options{
		Region: miniotest.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken),
	})
	denied := func(what string, err error) {
		t.Helper()
		var ae smithy.APIError
		require.True(t, errors.As(err, &ae), "%s: want AccessDenied, got %v", what, err)
		require.Equal(t, "AccessDenied", ae.ErrorCode(), what)
	}
	_, err = limited.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("billing/export.csv")})
	denied("delete outside the prefixes", err)
	_, err = limited.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: aws.String("billing/")})
	denied("list outside the prefixes", err)
	_, err = limited.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("users/" + jobtest.MD5UUID("user1") + "/a.png")})
	denied("read an object", err)
	_, err = limited.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("users/x/b.png"), Body: strings.NewReader("x")})
	denied("write an object", err)
}
