package retention

// SetTestHooks sets the test hooks of c: beforeBatch runs before each
// keyset batch and block range, lockRetry after a partition statement did
// not get its lock. Nil leaves a hook unset.
func SetTestHooks(c *Config, beforeBatch, lockRetry func()) {
	c.hooks = testHooks{beforeBatch: beforeBatch, lockRetry: lockRetry}
}
