package orphans

import "time"

// SetBeforeCommit sets the hook that runs just before an organizations
// batch commits.
func SetBeforeCommit(j *Job, f func(pid uint32)) { j.beforeCommit = f }

// SetAsOf makes c's run measure the min_age of objects from at instead of
// the database's clock.
func SetAsOf(c *Config, at time.Time) { c.asOf = at }
