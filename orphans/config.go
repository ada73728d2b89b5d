package orphans

import (
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/objstore"
	"github.com/lethe-project/lethe/policy"
)

// Config is what the orphans job needs besides the limits of its run,
// which come from its session (jobs.Session.Limits). The zero values of
// the numeric fields take the defaults below.
type Config struct {
	// Pool connects to the application's database. The job uses at most
	// two of its connections at once.
	Pool *pgxpool.Pool
	// Policy is the parsed policy file; its orphans: section is the work.
	Policy *policy.Policy
	// Store serves the locations of the section's objects; the caller
	// builds it once for every job. It may be nil only when the section
	// names no object location.
	Store *objstore.Router
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
