package retention

import "time"

// SetTestHooks sets the test hooks of c: beforeBatch runs before each
// keyset batch and block range, lockRetry after a partition statement did
// not get its lock. Nil leaves a hook unset.
func SetTestHooks(c *Config, beforeBatch, lockRetry func()) {
	c.hooks = testHooks{beforeBatch: beforeBatch, lockRetry: lockRetry}
}

// SetParentBusyHook sets the hook called after a NOWAIT request for a
// partitioned table's lock was refused, before the next request.
func SetParentBusyHook(c *Config, parentBusy func()) { c.hooks.parentBusy = parentBusy }

// SetDDLHooks sets the hooks called before each partition transaction
// that marks, detaches (grouped) or drops, and after each, with how long
// it took.
func SetDDLHooks(c *Config, before func(), done func(time.Duration)) {
	c.hooks.beforeDDL, c.hooks.ddlDone = before, done
}
