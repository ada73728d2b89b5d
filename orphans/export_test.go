package orphans

import "time"

// SetAsOf makes c's run measure the min_age of objects from at instead of
// the database's clock.
func SetAsOf(c *Config, at time.Time) { c.asOf = at }
