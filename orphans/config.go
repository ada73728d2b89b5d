package orphans

import (
	"time"

	"github.com/lethe-project/lethe/jobs"
)

// Config is what the orphans job needs besides the limits of its run,
// which come from its session (jobs.Session.Limits). The zero values of
// the numeric fields take the defaults below.
type Config struct {
	// Deps are the process's pool, policy, logger, hasher and object
	// router, built once by main; Pool and Policy are required.
	jobs.Deps

	// LookupSize is the number of object prefixes whose subject keys are
	// looked up in one query. Default 1000.
	LookupSize int

	// asOf, set by tests only (export_test.go), replaces the database's
	// clock as the moment the min_age of objects is measured from.
	asOf time.Time
}

func (c *Config) setDefaults() error {
	if err := c.Deps.Require("orphans"); err != nil {
		return err
	}
	if c.LookupSize <= 0 {
		c.LookupSize = 1000
	}
	return nil
}
