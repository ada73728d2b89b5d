package orphans

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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

	// BatchSize is the number of organizations, or invitation rows, per
	// transaction. Default 500.
	BatchSize int
	// LookupSize is the number of object prefixes whose subject keys are
	// looked up in one query. Default 1000.
	LookupSize int
	// TimeBudget stops the run from starting new batches after this long;
	// the next run carries on. Default 10 minutes.
	TimeBudget time.Duration
	// StatementTimeout bounds each statement. Default 30s.
	StatementTimeout time.Duration
	// LockTimeout bounds each lock wait. Default 5s.
	LockTimeout time.Duration
	// MaxSubjects is the blast-radius guard: the most organizations,
	// invitations or object prefixes one run may remove, per rule.
	// Default 10000.
	MaxSubjects int
	// MaxShare is the blast-radius guard: the largest share (0 to 1] of a
	// rule's organizations, pending invitations or listed prefixes one run
	// may remove, once at least 10 would go.
	// Default 0.25.
	MaxShare float64
	// AllowLarge runs past the blast-radius guard.
	AllowLarge bool
	// DryRun counts what a run would remove, in read-only transactions and
	// listings, and changes nothing.
	DryRun bool
	// Stop, when done, stops the run from starting new batches (a first
	// SIGTERM); cancelling the context passed to Run aborts the batch in
	// flight instead (it rolls back).
	Stop context.Context
}

func (c *Config) setDefaults() error {
	if c.Pool == nil || c.Policy == nil {
		return errors.New("orphans: Pool and Policy are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.LookupSize <= 0 {
		c.LookupSize = 1000
	}
	if c.TimeBudget <= 0 {
		c.TimeBudget = 10 * time.Minute
	}
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = 30 * time.Second
	}
	if c.LockTimeout <= 0 {
		c.LockTimeout = 5 * time.Second
	}
	if c.MaxSubjects <= 0 {
		c.MaxSubjects = 10000
	}
	if c.MaxShare <= 0 || c.MaxShare > 1 {
		c.MaxShare = 0.25
	}
	if c.Stop == nil {
		c.Stop = context.Background()
	}
	return nil
}
