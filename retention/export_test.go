package retention

import "time"

// SetTestHooks sets the test hooks of c: now replaces the clock of the
// time budget, beforeBatch runs before each keyset batch and block range,
// lockRetry after a partition statement did not get its lock. Nil leaves
// a hook unset.
func SetTestHooks(c *Config, now func() time.Time, beforeBatch, lockRetry func()) {
	c.hooks = testHooks{now: now, beforeBatch: beforeBatch, lockRetry: lockRetry}
}
