package s3store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NewClient builds an S3 client the standard way: config.LoadDefaultConfig
// for region and credentials, then cfg's endpoint, addressing, retry and
// timeout settings.
func NewClient(ctx context.Context, cfg Config) (*s3.Client, error) {
	cfg = cfg.withDefaults()
	httpClient := awshttp.NewBuildableClient().WithTimeout(cfg.AttemptTimeout)
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return newRetryer(cfg) }),
		config.WithHTTPClient(httpClient),
		// Ask for checksums only where the API requires them: S3-compatible
		// servers (Ceph, older MinIO, R2) reject some of the newer ones.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
	}), nil
}

// newRetryer is the SDK's standard retryer (it retries 5xx, SlowDown and
// other throttling codes, timeouts and connection errors) with our bounds,
// and without the client-wide retry quota: a batch job that must finish its
// subjects should not stop retrying because earlier requests used the
// quota up; MaxAttempts bounds each request instead.
func newRetryer(cfg Config) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = cfg.MaxAttempts
		o.MaxBackoff = cfg.MaxBackoff
		o.Backoff = jitterBackoff{min: cfg.MinBackoff, max: cfg.MaxBackoff}
		o.RateLimiter = ratelimit.None
	})
}

// jitterBackoff waits a random time up to min·2^(attempt-1), capped at max.
type jitterBackoff struct{ min, max time.Duration }

func (b jitterBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	ceil := b.min
	for i := 1; i < attempt && ceil < b.max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, b.max)
	return time.Duration(rand.Int64N(int64(ceil)) + 1), nil
}
