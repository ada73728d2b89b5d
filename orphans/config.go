package orphans

import (
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/jobs"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/policy"
)

// Store is where objects live: an [objstore.Router] in production.
type Store interface {
	objstore.Store
	objstore.PrefixLister
}

// Config is everything the orphans job needs. The zero values of the
// numeric fields take the defaults below.
type Config struct {
	// Limits are the settings every job shares: batch size, time budget,
	// timeouts, the blast-radius guard, dry run and stop.
	jobs.Limits

	// Pool connects to the application's database. The job uses at most
	// two of its connections at once.
	Pool *pgxpool.Pool
	// Policy is the parsed policy file; its orphans: section is the work.
	Policy *policy.Policy
	// Store serves the locations of the section's objects. Nil builds a
	// router from S3Endpoint and S3PathStyle (s3://, with the AWS default
	// credential chain) and the local filesystem (file://).
	Store Store
	// S3Endpoint is the base URL of an S3-compatible server; empty means
	// AWS S3. Used only when Store is nil.
	S3Endpoint string
	// S3PathStyle addresses buckets as endpoint/bucket/key. Used only when
	// Store is nil.
	S3PathStyle bool
	// Logger receives one line per part of the work and Debug per batch.
	Logger *slog.Logger

	// LookupSize is the number of object prefixes whose subject keys are
	// looked up in one query. Default 1000.
	LookupSize int

	// asOf, set by tests only (export_test.go), replaces the database's
	// clock as the moment the min_age of objects is measured from.
	asOf time.Time
}

func (c *Config) setDefaults() error {
	c.Limits.SetDefaults()
	if c.Pool == nil || c.Policy == nil {
		return errors.New("orphans: Pool and Policy are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LookupSize <= 0 {
		c.LookupSize = 1000
	}
	return nil
}
