package s3store

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Config configures the S3 store. The zero value talks to AWS with the
// region and credentials of the default chain.
type Config struct {
	// Region is the bucket region. Empty uses the default chain
	// (AWS_REGION, the shared config file, ...); if that is empty too,
	// "us-east-1" is used, which MinIO and most S3-compatible servers accept.
	Region string

	// Endpoint is the base URL of an S3-compatible server, such as
	// "http://minio:9000". Empty means AWS S3. main passes LETHE_S3_ENDPOINT
	// here; this package never reads the environment itself.
	Endpoint string

	// ForcePathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key. MinIO, Ceph and most self-hosted servers need it.
	ForcePathStyle bool

	// MaxAttempts is how many times one request is tried in all, counting the
	// first, before its error is returned. Throttling (503 SlowDown), other
	// 5xx answers, timeouts and dropped connections are retried; other errors
	// are not. Zero means 5.
	MaxAttempts int

	// MinBackoff is the longest pause before the first retry; each further
	// retry may wait up to twice as long as the one before, with full
	// jitter. Zero means 100ms.
	MinBackoff time.Duration

	// MaxBackoff caps the pause between attempts. Zero means 20s.
	MaxBackoff time.Duration

	// AttemptTimeout bounds one HTTP attempt, response body included; an
	// attempt that runs out is retried. Zero means 2 minutes.
	AttemptTimeout time.Duration

	// Credentials overrides the default credential chain (environment
	// keys, web identity / IRSA, shared files, instance or task roles).
	// Nil uses the chain. Tests set static keys here.
	Credentials aws.CredentialsProvider
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 20 * time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 2 * time.Minute
	}
	return c
}
