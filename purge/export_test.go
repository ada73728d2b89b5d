package purge

// SetHooks sets the test hooks of j; nil leaves a hook unset.
func SetHooks(j *Job, selecting func(), beforeCommit func(pid uint32), batchEnded func()) {
	j.hooks = hooks{selecting: selecting, beforeCommit: beforeCommit, batchEnded: batchEnded}
}
